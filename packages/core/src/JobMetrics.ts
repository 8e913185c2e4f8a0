/**
 * The metrics every job pool reports, as Effect `Metric`s, summed over the
 * pools that report to the same metric registry: a pool reports to the
 * `Metric.MetricRegistry` of the context it was made in (by default, one
 * registry for the whole process). Counters of job ends carry an `outcome`
 * label (`finished`, `failed`, `cancelled`).
 *
 * **Gotchas**
 *
 * There is no per-pool label on purpose: a metric registry keeps every series
 * it has seen for as long as it lives, so a label per pool would make each
 * pool leave its series behind. A pool's own counts are `pool.stats`.
 *
 * The pools keep these counts themselves and the registry reads them when it
 * is read (`Metric.registerUnsafe`), so a job cycle pays nothing for its
 * metrics; updating these metrics yourself has no effect.
 *
 * Read them with `Metric.value`, or export them with any Effect metrics
 * exporter (the offload service serves them as Prometheus text).
 *
 * @since 0.1.0
 */
import type * as Metric from "effect/Metric"
import * as internal from "./internal/metrics.js"

/**
 * Jobs started, counter `async_job_starts_total`: one per `start` that ran a job (a start refused by a full
 * pool counts in {@link noJobs} instead).
 *
 * @since 0.1.0
 * @category metrics
 */
export const starts: Metric.Counter<number> = internal.starts
/**
 * Job pauses, counter `async_job_pauses_total`: one per pause that handed control back to the caller (a
 * pause outside a job or while pausing is blocked does nothing and is not counted).
 *
 * @since 0.1.0
 * @category metrics
 */
export const pauses: Metric.Counter<number> = internal.pauses
/**
 * Job resumes, counter `async_job_resumes_total`: one per `resume` that continued a paused job.
 *
 * @since 0.1.0
 * @category metrics
 */
export const resumes: Metric.Counter<number> = internal.resumes
/**
 * Jobs that ended, counter `async_job_finishes_total`, labelled by `outcome`: `finished` (the body
 * succeeded), `failed` (it failed) or `cancelled`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const finishes: Metric.Counter<number> = internal.finishes
/**
 * Starts refused because the pool was full, counter `async_job_no_jobs_total` (`NoJobsError`, OpenSSL's
 * `ASYNC_NO_JOBS`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const noJobs: Metric.Counter<number> = internal.noJobs
/**
 * Cancellations of paused jobs, counter `async_job_cancellations_total`: one per `cancel` that cancelled a
 * paused job.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cancellations: Metric.Counter<number> = internal.cancellations
/**
 * Jobs running, over all pools, gauge `async_job_pool_running`: executing, being resumed, or unwinding
 * after a cancel.
 *
 * @since 0.1.0
 * @category metrics
 */
export const running: Metric.Gauge<number> = internal.running
/**
 * Jobs paused, over all pools, gauge `async_job_pool_paused`: waiting for a resume.
 *
 * @since 0.1.0
 * @category metrics
 */
export const paused: Metric.Gauge<number> = internal.paused
/**
 * Idle job slots, over all open pools, gauge `async_job_pool_idle`: slots created and not in use, which a
 * start reuses before creating one.
 *
 * @since 0.1.0
 * @category metrics
 */
export const idle: Metric.Gauge<number> = internal.idle
