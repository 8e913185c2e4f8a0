import * as AsyncJob from "@async-job/core/AsyncJob"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as CryptoEngine from "../engine/CryptoEngine.js"
import type { EngineError } from "../engine/EngineError.js"
import type * as Operation from "../engine/Operation.js"

/**
 * The key of the engine's wait fd in a job's wait ctx (OpenSSL engines key
 * theirs by engine id).
 */
export const engineKey: unique symbol = Symbol.for("@async-job/offload-service/CryptoEngine")

export interface OffloadOptions {
  /** The cleanup of the wait fd, run when the wait ctx closes. */
  readonly cleanup: WaitCtx.Cleanup
  /** Called on the main thread once the engine has answered and the fd is signalled: resume the job. */
  readonly onAnswer: () => void
}

/**
 * The body of a job that offloads one operation, the way an OpenSSL engine
 * drives an accelerator: submit the request, publish a wait fd on the job's
 * wait ctx, pause until the engine has answered (a resume is a hint: pause
 * again while no answer came), then return the answer. The engine's
 * completion callback signals the fd. Interrupted (cancelled), the job drops
 * its engine request.
 */
export const offload = (
  engine: CryptoEngine.CryptoEngine,
  request: Operation.Request,
  ctx: WaitCtx.WaitCtx,
  options: OffloadOptions
): Effect.Effect<Operation.Result, EngineError> =>
  Effect.suspend(() => {
    let outcome: Exit.Exit<Operation.Result, EngineError> | undefined
    const fd = WaitFd.makeUnsafe()
    return Effect.acquireUseRelease(
      Effect.sync(() =>
        engine.submitUnsafe(request, (exit) => {
          outcome = exit
          fd.signalUnsafe()
          options.onAnswer()
        })
      ),
      (requestId) =>
        Effect.andThen(
          WaitCtx.setWaitFd(ctx, engineKey, fd, { customData: requestId, cleanup: options.cleanup }),
          Effect.suspend(function loop(): Effect.Effect<Operation.Result, EngineError> {
            if (outcome !== undefined) {
              fd.clearUnsafe()
              return outcome
            }
            return Effect.andThen(AsyncJob.pause, Effect.suspend(loop))
          })
        ),
      // dropped if still pending (cancellation); a no-op once the engine has answered
      (requestId) => Effect.sync(() => engine.cancelUnsafe(requestId))
    )
  })
