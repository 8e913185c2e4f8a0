/**
 * The hand-made worker: a `node:worker_threads` Worker running
 * `cryptoWorker.js`, spoken to with plain structured-cloned messages
 * (`{ id, request }` in; `{ ready }`, then `{ id, ok, result | message }` out).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Worker } from "node:worker_threads"
import type * as CryptoEngine from "./CryptoEngine.js"
import type * as Operation from "./Operation.js"
import { errorMessage } from "./engineBase.js"
import type { WorkerKind } from "./threadPool.js"

export const defaultScript = new URL("./cryptoWorker.js", import.meta.url)

type WorkerReply =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly result: Operation.Result }
  | { readonly id: number; readonly ok: false; readonly message: string }

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
        onAnswer(
          reply.id,
          reply.ok ? Exit.succeed(reply.result) : Exit.fail({ _tag: "Refused", message: reply.message })
        )
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
      return {
        threadId,
        post: (entry) => worker.postMessage({ id: entry.id, request: entry.request }),
        died: Deferred.await(died),
        crash: () => worker.postMessage({ id: -1, crash: true }),
        kill: () => void worker.terminate()
      }
    })
})
