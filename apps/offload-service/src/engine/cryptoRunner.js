// @ts-check
/**
 * The body of one engine worker thread on effect's own worker support: an
 * `RpcServer` over `RpcServer.layerProtocolWorkerRunner` and
 * `NodeWorkerRunner`, answering the procedures of `cryptoProtocol.js`. The keys
 * come as `workerData` (DER bytes), imported before the server starts, so
 * that its answer to `Ready` means the worker serves.
 *
 * It ends when the engine closes it (the parent's close message), with exit
 * code 0.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as RpcServer from "effect/rpc/RpcServer"
import { workerData } from "node:worker_threads"
import { ecdsaP256Sign, importKeys, rsa2048Sign, scrypt, sha256 } from "./cryptoOps.js"
import { CryptoRpcs, OperationRefused } from "./cryptoProtocol.js"

const signers = importKeys(/** @type {import("./cryptoOps.js").KeyMaterial} */ (workerData))

/**
 * Runs one operation; what node:crypto throws is the request's failure.
 *
 * @template A
 * @param {() => A} operation
 * @returns {Effect.Effect<A, OperationRefused>}
 */
const attempt = (operation) =>
  Effect.try({
    try: operation,
    catch: (error) => new OperationRefused({ message: error instanceof Error ? error.message : String(error) })
  })

const Handlers = CryptoRpcs.toLayer({
  Sha256: ({ data }) => attempt(() => sha256(data)),
  EcdsaP256Sign: ({ data }) => attempt(() => ecdsaP256Sign(data, signers)),
  Rsa2048Sign: ({ data }) => attempt(() => rsa2048Sign(data, signers)),
  Scrypt: ({ N, password, salt }) => attempt(() => scrypt(password, salt, N)),
  Ready: () => Effect.void,
  Crash: () => Effect.sync(() => process.exit(70))
})

const Server = RpcServer.layer(CryptoRpcs, { disableTracing: true }).pipe(
  Layer.provide(Handlers),
  Layer.provide(RpcServer.layerProtocolWorkerRunner),
  Layer.provide(NodeWorkerRunner.layer)
)

NodeRuntime.runMain(Layer.launch(Server), {
  // closed by the engine: the server is interrupted, which is this thread's normal end
  teardown: (exit, onExit) => onExit(Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? 1 : 0)
})
