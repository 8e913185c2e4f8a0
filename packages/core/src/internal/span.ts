/**
 * Spans for `start` and `resume`, made by hand.
 *
 * `Effect.withSpan` wraps its effect in frames that install the span as the
 * parent in the fiber's context and end it on exit, which costs more than the
 * rest of a job cycle; the hot path asks effect for a span directly
 * (`Effect.makeSpan`'s rules: parent, annotations, links, sampling, timing)
 * and ends it when the step is handed over.
 *
 * Spans are made only where they can be seen: when a tracer is installed
 * (`Effect.withTracer`, a tracer layer such as `@effect/opentelemetry`'s) and
 * tracing is enabled. Effect's native tracer, which every fiber falls back to
 * when none is installed, keeps spans nowhere; making them for it would cost a
 * tenth of a cycle for nothing.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as References from "effect/References"
import type * as Tracer from "effect/Tracer"

/** @internal */
export interface OpenSpan {
  readonly span: Tracer.Span
  readonly clock: Clock.Clock | undefined
}

/**
 * Whether spans made on this fiber can be seen: a tracer is installed and
 * tracing is enabled.
 *
 * @internal
 */
export const isRecording = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.cache.tracer !== undefined && fiber.cache.tracerEnabled

/** @internal */
export const open = (
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  jobId: number | undefined
): OpenSpan | undefined => {
  if (!isRecording(fiber)) return undefined
  const span = Effect.runSyncWith(fiber.context)(
    Effect.makeSpan(
      name,
      jobId === undefined ? { kind: "internal" } : {
        kind: "internal",
        attributes: { "async_job.id": jobId }
      }
    )
  )
  const clock = fiber.getRef(References.TracerTimingEnabled) ? fiber.getRef(Clock.Clock) : undefined
  return { span, clock }
}

/** @internal */
export const close = (open: OpenSpan | undefined, exit: Exit.Exit<unknown, unknown>, jobId?: number): void => {
  if (open === undefined) return
  if (jobId !== undefined) open.span.attribute("async_job.id", jobId)
  open.span.end(open.clock === undefined ? 0n : open.clock.currentTimeNanosUnsafe(), exit)
}
