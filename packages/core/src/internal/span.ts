/**
 * Spans for `start` and `resume`, made by hand.
 *
 * `Effect.withSpan` costs about as much as a whole job cycle (it installs the
 * span as the parent in the fiber's context and registers an exit hook), so
 * the hot path asks the fiber's tracer for a span directly, with the same
 * parent, context and timing rules, and ends it when the step is handed over.
 * It honours `Effect.withTracerEnabled` and `Effect.withTracerTiming`.
 *
 * With effect's built-in tracer, which keeps spans nowhere, no span is made at
 * all: nobody could see it, and making it is a tenth of a cycle. Install a
 * tracer (for example `@effect/opentelemetry`'s) and every start and resume
 * gets its span.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

/** @internal */
export interface OpenSpan {
  readonly span: Tracer.Span
  readonly clock: Clock.Clock | undefined
}

/** effect's default tracer, as every fiber has it unless a tracer is installed */
const builtInTracer = Effect.runSync(Effect.tracer)

/**
 * Whether spans made on this fiber can be seen: a tracer other than effect's
 * built-in one is installed and tracing is enabled.
 *
 * @internal
 */
export const isRecording = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  fiber.currentTracer !== builtInTracer && fiber.getFiberRef(FiberRef.currentTracerEnabled)

/** @internal */
export const open = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  jobId: number | undefined
): OpenSpan | undefined => {
  if (!isRecording(fiber)) return undefined
  const clock = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    ? Context.get(fiber.currentDefaultServices, Clock.Clock)
    : undefined
  const span = fiber.currentTracer.span(
    name,
    Option.fromNullable(fiber.currentSpan),
    fiber.currentContext,
    [],
    clock === undefined ? 0n : clock.unsafeCurrentTimeNanos(),
    "internal"
  )
  if (jobId !== undefined) span.attribute("async_job.id", jobId)
  return { span, clock }
}

/** @internal */
export const close = (open: OpenSpan | undefined, exit: Exit.Exit<unknown, unknown>, jobId?: number): void => {
  if (open === undefined) return
  if (jobId !== undefined) open.span.attribute("async_job.id", jobId)
  open.span.end(open.clock === undefined ? 0n : open.clock.unsafeCurrentTimeNanos(), exit)
}
