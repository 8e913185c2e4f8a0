/**
 * A progress bar on stderr, drawn only when stderr is a terminal.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stats from "./Stats.js"

/**
 * Where a progress bar is drawn: a terminal stream such as `process.stderr`.
 */
export interface Terminal {
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
  readonly write: (text: string) => unknown
}

/**
 * Runs `run`, redrawing a progress bar for it on `stderr` ten times a second
 * while it runs, and erasing it at the end. Draws nothing when `stderr` is
 * not a TTY.
 */
export const aroundOn = (stderr: Terminal) =>
<A, E, R>(
  label: string,
  total: number,
  run: (onProgress: (done: number) => void) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (stderr.isTTY !== true) return run(() => {})
  let done = 0
  const began = Date.now()
  const draw = Effect.sync(() => {
    const width = Math.max(10, Math.min(40, (stderr.columns ?? 80) - 50))
    const bar = Stats.progressBar({ label, done, total, elapsedMs: Date.now() - began, width })
    stderr.write(`\r\x1b[2K${bar}`)
  })
  return Effect.gen(function*() {
    // forked outside any uninterruptible region, so the interrupt below stops it
    const drawing = yield* Effect.forkChild(Effect.repeat(draw, Schedule.spaced(Duration.millis(100))))
    return yield* run((n) => done = n).pipe(
      Effect.ensuring(Effect.andThen(Fiber.interrupt(drawing), Effect.sync(() => stderr.write("\r\x1b[2K"))))
    )
  })
}

/**
 * {@link aroundOn} the process's stderr.
 */
export const around = <A, E, R>(
  label: string,
  total: number,
  run: (onProgress: (done: number) => void) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => aroundOn(process.stderr)(label, total, run)
