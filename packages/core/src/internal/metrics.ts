import * as Metric from "effect/Metric"

/** @internal */
export const starts = Metric.counter("async_job_starts_total", {
  description: "Jobs started",
  incremental: true
})
/** @internal */
export const pauses = Metric.counter("async_job_pauses_total", { description: "Job pauses", incremental: true })
/** @internal */
export const resumes = Metric.counter("async_job_resumes_total", { description: "Job resumes", incremental: true })
/** @internal */
export const finishes = Metric.counter("async_job_finishes_total", {
  description: "Jobs that ended, by outcome (finished, failed, cancelled)",
  incremental: true
})
/** @internal */
export const noJobs = Metric.counter("async_job_no_jobs_total", {
  description: "Starts refused because the pool was full",
  incremental: true
})
/** @internal */
export const cancellations = Metric.counter("async_job_cancellations_total", {
  description: "Paused jobs cancelled",
  incremental: true
})
/** @internal */
export const running = Metric.gauge("async_job_pool_running", { description: "Jobs running, per pool" })
/** @internal */
export const paused = Metric.gauge("async_job_pool_paused", { description: "Jobs paused, per pool" })
/** @internal */
export const idle = Metric.gauge("async_job_pool_idle", { description: "Idle job records, per pool" })
