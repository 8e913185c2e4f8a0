/**
 * A hook on the life of jobs and wait ctxs: every start, pause, resume, end,
 * NoJobs refusal, cancellation and fd cleanup, reported synchronously and in
 * order. Pools and wait ctxs made while a `JobObserver` is in context report
 * to it.
 *
 * **When to use**
 *
 * Tests that assert a whole sequence of events at once (the event recorder of
 * `@async-job/testing` is built on it), audit logs, custom metrics.
 *
 * **Gotchas**
 *
 * `onEvent` runs inside the engine's hot path: keep it cheap and never throw.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/**
 * One event in the life of a job or a wait ctx, as reported to a {@link JobObserver}. Jobs and pools are
 * named by their ids (`AsyncJob.Job`'s `id` and `poolId`), wait ctxs by theirs:
 *
 * - `Started`, `Paused`, `Resumed`: a job started, paused, was resumed;
 * - `Ended`: a job ended, `finished`, `failed` or `cancelled`;
 * - `NoJobs`: a start was refused, the pool being full;
 * - `CancelRequested`: a paused job is being cancelled;
 * - `PoolClosed`: a pool closed;
 * - `CleanupRan`: a wait fd's cleanup ran, as its wait ctx closed;
 * - `WaitCtxClosed`: a wait ctx closed.
 *
 * @since 0.1.0
 * @category models
 */
export type JobEvent =
  | { readonly _tag: "Started"; readonly poolId: number; readonly jobId: number }
  | { readonly _tag: "Paused"; readonly poolId: number; readonly jobId: number }
  | { readonly _tag: "Resumed"; readonly poolId: number; readonly jobId: number }
  | {
    readonly _tag: "Ended"
    readonly poolId: number
    readonly jobId: number
    readonly outcome: "finished" | "failed" | "cancelled"
  }
  | { readonly _tag: "NoJobs"; readonly poolId: number }
  | { readonly _tag: "CancelRequested"; readonly poolId: number; readonly jobId: number }
  | { readonly _tag: "PoolClosed"; readonly poolId: number }
  | { readonly _tag: "CleanupRan"; readonly waitCtxId: number; readonly key: unknown; readonly fd: number }
  | { readonly _tag: "WaitCtxClosed"; readonly waitCtxId: number }

/**
 * The observer: `onEvent` is called synchronously with each event, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobObserver {
  readonly onEvent: (event: JobEvent) => void
}

/**
 * The observer's service tag: pools and wait ctxs made while it is in context report to it.
 *
 * @since 0.1.0
 * @category services
 */
export const JobObserver: Context.Service<JobObserver, JobObserver> = Context.Service<JobObserver>(
  "@async-job/core/JobObserver"
)

/**
 * Provides an observer calling `onEvent` for every event.
 *
 * @param onEvent - Called with each event; keep it cheap, and never throw.
 * @since 0.1.0
 * @category layers
 */
export const layer = (onEvent: (event: JobEvent) => void): Layer.Layer<JobObserver> =>
  Layer.succeed(JobObserver, { onEvent })
