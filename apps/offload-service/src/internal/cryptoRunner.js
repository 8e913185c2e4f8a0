// @ts-check
/**
 * The body of one engine worker thread on `@effect/platform`'s
 * `WorkerRunner`: it answers the Schema-typed requests of
 * `cryptoProtocol.js`. The keys come as `workerData` (DER bytes); the runner
 * tells the engine it is ready once they are imported.
 *
 * @internal
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { workerData } from "node:worker_threads"
import { importKeys, perform } from "./cryptoOps.js"
import { OperationRefused, toOpRequest, WorkerRequest } from "./cryptoProtocol.js"

const signers = importKeys(/** @type {import("./cryptoOps.js").KeyMaterial} */ (workerData))

/**
 * Runs one operation; what node:crypto throws is the request's failure.
 *
 * @param {import("./cryptoOps.js").OpRequest} request
 */
const perform_ = (request) =>
  Effect.try({
    try: () => perform(request, signers),
    catch: (error) => new OperationRefused({ message: error instanceof Error ? error.message : String(error) })
  })

/**
 * @template A
 * @param {import("./cryptoOps.js").OpRequest} request
 * @returns {Effect.Effect<A, OperationRefused>}
 */
const answer = (request) => /** @type {Effect.Effect<A, OperationRefused>} */ (perform_(request))

const Handlers = WorkerRunner.layerSerialized(WorkerRequest, {
  Sha256: (request) => answer(toOpRequest(request)),
  EcdsaP256Sign: (request) => answer(toOpRequest(request)),
  Rsa2048Sign: (request) => answer(toOpRequest(request)),
  Scrypt: (request) => answer(toOpRequest(request)),
  Crash: () => Effect.sync(() => process.exit(70))
})

NodeRuntime.runMain(WorkerRunner.launch(Layer.provide(Handlers, NodeWorkerRunner.layer)))
