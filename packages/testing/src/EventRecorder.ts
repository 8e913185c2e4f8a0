/**
 * An event recorder: every start, pause, resume, end, NoJobs refusal,
 * cancellation, pool close, fd cleanup and wait-ctx close, in the order the
 * engine reported them, so that a test can assert a whole sequence at once.
 *
 * It is built on `JobObserver` of `@async-job/core`: pools and wait ctxs made
 * while {@link layer} is in context report to it.
 *
 * @example
 * ```ts
 * import { AsyncJob, JobPool } from "@async-job/core"
 * import * as EventRecorder from "@async-job/testing/EventRecorder"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const step = yield* AsyncJob.start(AsyncJob.pause)
 *   if (step._tag === "Paused") yield* AsyncJob.resume(step.job)
 *   return yield* EventRecorder.lines
 *   // ["Started p1 j1", "Paused p1 j1", "Resumed p1 j1",
 *   //  "Ended p1 j1 finished"]
 * }).pipe(
 *   Effect.provide(
 *     JobPool.layer().pipe(Layer.provideMerge(EventRecorder.layer))
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as JobObserver from "@async-job/core/JobObserver"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/eventRecorder.js"

/**
 * One event, as `JobObserver` reported it (with the engine's own ids).
 *
 * @since 0.1.0
 * @category models
 */
export type Event = JobObserver.JobEvent

/**
 * The recorder service.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventRecorder {
  /** Every event recorded so far (since the last {@link clear}), oldest first. */
  readonly events: Effect.Effect<ReadonlyArray<Event>>
  /**
   * The events as short lines with ids renumbered from 1 in order of first
   * appearance (`p` pools, `j` jobs, `w` wait ctxs), so a sequence reads the
   * same in every test run: `"Started p1 j1"`, `"Ended p1 j1 cancelled"`,
   * `"CleanupRan w1 <key> <fd>"`. Renumbering persists across {@link clear}.
   */
  readonly lines: Effect.Effect<ReadonlyArray<string>>
  /** Returns {@link lines} and forgets the events. */
  readonly takeLines: Effect.Effect<ReadonlyArray<string>>
  /** Forgets the events recorded so far. */
  readonly clear: Effect.Effect<void>
  /** The synchronous form of {@link events}. */
  readonly eventsUnsafe: () => ReadonlyArray<Event>
}

/**
 * The recorder's service key.
 *
 * @since 0.1.0
 * @category services
 */
export const EventRecorder: Context.Service<EventRecorder, EventRecorder> = Context.Service<EventRecorder>(
  "@async-job/testing/EventRecorder"
)

/**
 * Creates a recorder and the `JobObserver` that feeds it, for code that wires
 * services by hand.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeUnsafe: () => {
  readonly recorder: EventRecorder
  readonly observer: JobObserver.JobObserver
} = internal.makeUnsafe

/**
 * Provides an {@link EventRecorder} and the `JobObserver` that feeds it.
 * Build the pools and wait ctxs under test on top of it (for instance with
 * `Layer.provideMerge`), since only those made while the observer is in
 * context report to it.
 *
 * **Gotchas**
 *
 * A layer shared by several tests (`layer(...)` of `@effect/vitest`) shares
 * one recorder: call {@link clear} between tests, or provide it per test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventRecorder | JobObserver.JobObserver> = internal.layer(EventRecorder)

/**
 * The recorded events of the recorder in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const events: Effect.Effect<ReadonlyArray<Event>, never, EventRecorder> = Effect.flatMap(
  EventRecorder,
  (recorder) => recorder.events
)

/**
 * The recorded events as renumbered lines (see {@link EventRecorder.lines}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const lines: Effect.Effect<ReadonlyArray<string>, never, EventRecorder> = Effect.flatMap(
  EventRecorder,
  (recorder) => recorder.lines
)

/**
 * The recorded lines, then forgets them: assert one phase of a test at a time.
 *
 * @since 0.1.0
 * @category accessors
 */
export const takeLines: Effect.Effect<ReadonlyArray<string>, never, EventRecorder> = Effect.flatMap(
  EventRecorder,
  (recorder) => recorder.takeLines
)

/**
 * Forgets the recorded events of the recorder in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, EventRecorder> = Effect.flatMap(
  EventRecorder,
  (recorder) => recorder.clear
)
