/**
 * The hand-made worker: a `node:worker_threads` Worker running
 * `cryptoWorker.js`, spoken to with plain structured-cloned messages
 * (`{ batch: [[id, request], …] }` in; `{ ready }`, then
 * `{ answers: [[id, ok, result | message], …] }` out).
 *
 * The requests handed to a worker during one turn of the event loop go in
 * one message, posted when the turn's I/O callbacks are done
 * (`setImmediate`): one structured clone and one wake-up of the worker for
 * all of them, and one answer message back per batch.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Worker } from "node:worker_threads"
import type * as CryptoEngine from "./CryptoEngine.js"
import { errorMessage } from "./engineBase.js"
import type * as Operation from "./Operation.js"
import type { WorkerKind } from "./threadPool.js"

export const defaultScript = new URL("./cryptoWorker.js", import.meta.url)

type Answer =
  | readonly [id: number, ok: true, result: Operation.Result]
  | readonly [id: number, ok: false, message: string]

type WorkerReply = { readonly ready: true } | { readonly answers: ReadonlyArray<Answer> }

export const make = (options: {
  readonly script: URL
  readonly keys: CryptoEngine.KeyMaterial
  readonly onWorkerSpawn: ((worker: Worker) => void) | undefined
}): WorkerKind => ({
  name: "hand-made",
  start: (index, onAnswer) =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<void, string>()
      const died = yield* Deferred.make<string>()
      const worker = yield* Effect.acquireRelease(
        Effect.sync(() => new Worker(options.script, { workerData: options.keys, name: `crypto-engine-${index}` })),
        (worker) => Effect.promise(() => worker.terminate())
      )
      const threadId = worker.threadId
      // the handlers are installed before any message or event can arrive (both come from the event loop)
      let lastError: string | undefined
      worker.on("message", (reply: WorkerReply) => {
        if ("ready" in reply) return Deferred.doneUnsafe(ready, Exit.void)
        for (const answer of reply.answers) {
          onAnswer(
            answer[0],
            answer[1] ? Exit.succeed(answer[2]) : Exit.fail({ _tag: "Refused", message: answer[2] })
          )
        }
      })
      worker.on("error", (error) => {
        lastError = errorMessage(error)
      })
      worker.on("exit", (code) => {
        const reason = lastError ?? `exited with code ${code}`
        Deferred.doneUnsafe(ready, Exit.fail(reason))
        Deferred.doneUnsafe(died, Exit.succeed(reason))
      })
      options.onWorkerSpawn?.(worker)
      yield* Deferred.await(ready)
      let batch: Array<readonly [number, Operation.Request]> = []
      const flush = () => {
        const tasks = batch
        batch = []
        worker.postMessage({ batch: tasks })
      }
      return {
        threadId,
        post: (entry) => {
          if (batch.length === 0) setImmediate(flush)
          batch.push([entry.id, entry.request])
        },
        died: Deferred.await(died),
        crash: () => worker.postMessage({ crash: true }),
        kill: () => void worker.terminate()
      }
    })
})
