/**
 * The platform worker: effect's own worker support. The `effect/rpc` group of
 * `cryptoProtocol.js`, called through an `RpcClient` over
 * `RpcClient.layerProtocolWorker` and `@effect/platform-node`'s `NodeWorker`,
 * served in the thread by `cryptoRunner.js` (an `RpcServer` over
 * `RpcServer.layerProtocolWorkerRunner` and `NodeWorkerRunner`).
 *
 * One client with a pool of one worker per slot, in the slot's own scope:
 * the protocol's pool respawns a dead thread by itself a second later, and a
 * worker that dies at start would keep the pool waiting for it; the engine's
 * supervisor needs to see each death and start the next worker on its own
 * schedule. So the supervisor closes the slot's scope when the thread dies
 * (before the pool's respawn is due, which the close interrupts), and starts
 * the next.
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RpcClient from "effect/rpc/RpcClient"
import * as WorkerThreads from "node:worker_threads"
import type * as CryptoEngine from "./CryptoEngine.js"
import { call, CryptoRpcs, OperationRefused } from "./cryptoProtocol.js"
import { errorMessage } from "./engineBase.js"
import type * as Operation from "./Operation.js"
import type { Failure, WorkerKind } from "./threadPool.js"

export const defaultScript = new URL("./cryptoRunner.js", import.meta.url)

const failureOf = (cause: Cause.Cause<unknown>): Failure =>
  Option.match(Cause.findErrorOption(cause), {
    onNone: () => ({ _tag: "Lost", message: Cause.pretty(cause) }),
    onSome: (error) =>
      error instanceof OperationRefused
        ? { _tag: "Refused", message: error.message }
        // the thread died (the supervisor also sees it), or the protocol failed: the request is lost
        : { _tag: "Lost", message: errorMessage(error) }
  })

export const make = (options: {
  readonly script: URL
  readonly keys: CryptoEngine.KeyMaterial
  /** Requests the engine hands one worker at once. */
  readonly depth: number
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
        // installed before the platform's own listeners: the supervisor learns of a death first
        worker.on("error", (error) => {
          lastError = errorMessage(error)
        })
        worker.on("exit", (code) => {
          Deferred.doneUnsafe(died, Exit.succeed(lastError ?? `exited with code ${code}`))
        })
        options.onWorkerSpawn?.(worker)
        return worker
      }
      // the engine bounds the requests in flight per worker; the protocol's pool must not queue below that
      // (one more for the test hook `crash`)
      const protocol = yield* Layer.build(
        RpcClient.layerProtocolWorker({ size: 1, concurrency: options.depth + 1 }).pipe(
          Layer.provide(NodeWorker.layer(spawn))
        )
      ).pipe(Effect.mapError((error) => error.message))
      const client = yield* RpcClient.make(CryptoRpcs, { disableTracing: true }).pipe(Effect.provideContext(protocol))
      // a thread that dies before it is ready fails the start
      yield* Effect.raceFirst(
        Effect.flatMap(Deferred.await(died), Effect.fail),
        Effect.mapError(client.Ready(), (error) => error.message)
      )
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      const threadId = thread!.threadId
      return {
        threadId,
        post: (entry) => {
          const answer: Effect.Effect<Operation.Result, unknown> = call(client, entry.request)
          runFork(answer).addObserver((exit) =>
            onAnswer(entry.id, Exit.isSuccess(exit) ? Exit.succeed(exit.value) : Exit.fail(failureOf(exit.cause)))
          )
        },
        died: Deferred.await(died),
        crash: () => {
          runFork(Effect.ignore(client.Crash()))
        },
        kill: () => void thread!.terminate()
      }
    })
})
