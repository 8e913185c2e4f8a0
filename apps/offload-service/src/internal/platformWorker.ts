/**
 * The platform worker: `@effect/platform`'s `Worker.makeSerialized` over
 * `@effect/platform-node`'s `NodeWorker`, running `cryptoRunner.js` (a
 * `WorkerRunner` on `NodeWorkerRunner`), with the Schema-typed protocol of
 * `cryptoProtocol.js`.
 *
 * One serialized worker per slot rather than `Worker.makePoolSerialized`:
 * the platform's worker manager respawns a dead thread itself, every second
 * and for ever, and a worker that dies at start keeps the pool waiting for it
 * to be ready; the engine's supervisor needs to see each death and start the
 * next worker on its own schedule. So each worker lives in its own scope,
 * which the supervisor closes when the thread dies (before the manager's
 * respawn is due), and starts the next.
 *
 * @internal
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Worker from "@effect/platform/Worker"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as WorkerThreads from "node:worker_threads"
import type * as CryptoEngine from "../CryptoEngine.js"
import type * as Operation from "../Operation.js"
import { Crash, OperationRefused, toWorkerRequest, type WorkerRequest } from "./cryptoProtocol.js"
import { errorMessage } from "./engineBase.js"
import type { WorkerKind } from "./threadPool.js"

/** @internal */
export const defaultScript = new URL("./cryptoRunner.js", import.meta.url)

/** @internal */
export const make = (options: {
  readonly script: URL
  readonly keys: CryptoEngine.KeyMaterial
  readonly onWorkerSpawn: ((worker: WorkerThreads.Worker) => void) | undefined
}): WorkerKind => ({
  name: "platform",
  start: (index, onAnswer) =>
    Effect.gen(function*() {
      const died = yield* Deferred.make<string>()
      let thread: WorkerThreads.Worker | undefined
      const spawn = () => {
        const worker = new WorkerThreads.Worker(options.script, {
          workerData: options.keys,
          name: `crypto-engine-${index}`
        })
        thread = worker
        let lastError: string | undefined
        worker.on("error", (error) => {
          lastError = errorMessage(error)
        })
        worker.on("exit", (code) => {
          Deferred.unsafeDone(died, Exit.succeed(lastError ?? `exited with code ${code}`))
        })
        options.onWorkerSpawn?.(worker)
        return worker
      }
      const manager = yield* Effect.provide(Worker.makeManager, NodeWorker.layerWorker)
      const worker = yield* Worker.makeSerialized<typeof WorkerRequest.Type>({}).pipe(
        Effect.provideService(Worker.WorkerManager, manager),
        Effect.provide(Worker.layerSpawner(spawn)),
        Effect.mapError((error) => error.message),
        // a thread that dies before it is ready fails the start
        Effect.raceFirst(Effect.flatMap(Deferred.await(died), Effect.fail))
      )
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const threadId = thread!.threadId
      return {
        threadId,
        post: (entry) => {
          const answer: Effect.Effect<Operation.Result, unknown> = worker.executeEffect(toWorkerRequest(entry.request))
          const fiber = runFork(answer)
          fiber.addObserver((exit) => {
            if (Exit.isSuccess(exit)) return onAnswer(entry.id, Exit.succeed(exit.value))
            const failure = Cause.failureOption(exit.cause)
            onAnswer(
              entry.id,
              Exit.fail(
                Option.isSome(failure) && failure.value instanceof OperationRefused
                  ? { _tag: "Refused", message: failure.value.message }
                  // the thread died (the supervisor also sees it), or the protocol failed: the request is lost
                  : { _tag: "Lost", message: Cause.pretty(exit.cause) }
              )
            )
          })
        },
        died: Deferred.await(died),
        crash: () => {
          runFork(Effect.ignore(worker.executeEffect(new Crash())))
        },
        kill: () => void thread!.terminate()
      }
    })
})
