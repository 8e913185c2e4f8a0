/**
 * What signals mean to `pnpm start`: the first SIGINT or SIGTERM stops the
 * service (`NodeRuntime.runMain` interrupts it: the port closes, outstanding
 * jobs get `SHUTDOWN_GRACE`, see `http/server.ts`); a second one, however
 * soon, cuts the grace short: the jobs still outstanding are cancelled at
 * once, and the service exits as soon as they have unwound.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { GraceCutShort } from "./jobs/Jobs.js"

/**
 * Provides `GraceCutShort` as the second SIGINT or SIGTERM the process
 * receives, counted from when the layer is built; its listeners are removed
 * when the layer is released (build it before the service, so that it is
 * released after the service's shutdown).
 */
export const layerSecondSignal: Layer.Layer<never> = Layer.effect(
  GraceCutShort,
  Effect.gen(function*() {
    const second = Deferred.makeUnsafe<void>()
    let signals = 0
    const onSignal = () => {
      signals++
      if (signals >= 2) Deferred.doneUnsafe(second, Exit.void)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    )
    return Deferred.await(second)
  })
)
