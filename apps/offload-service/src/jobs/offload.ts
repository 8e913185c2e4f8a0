import * as AsyncJob from "@async-job/core/AsyncJob"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
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
  /** Runs once the request is submitted and the fd published, just before the first pause. */
  readonly onSubmitted: (job: AsyncJob.Job<unknown, unknown> | undefined) => Effect.Effect<void>
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
        })
      ),
      (requestId) =>
        Effect.gen(function*() {
          yield* WaitCtx.setWaitFd(ctx, engineKey, fd, { customData: requestId, cleanup: options.cleanup })
          yield* options.onSubmitted(Option.getOrUndefined(yield* AsyncJob.current))
          while (outcome === undefined) yield* AsyncJob.pause
          fd.clearUnsafe()
          return yield* outcome
        }),
      // dropped if still pending (cancellation); a no-op once the engine has answered
      (requestId) => Effect.sync(() => engine.cancelUnsafe(requestId))
    )
  })
