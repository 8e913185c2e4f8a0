import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

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
export const running = Metric.gauge("async_job_pool_running", { description: "Jobs running, in all pools" })
/** @internal */
export const paused = Metric.gauge("async_job_pool_paused", { description: "Jobs paused, in all pools" })
/** @internal */
export const idle = Metric.gauge("async_job_pool_idle", { description: "Idle job slots, in all open pools" })

/**
 * No per-pool labels: Effect's metric registry never forgets a key, so a label
 * per pool would keep every pool's keys alive forever. Pool gauges are
 * process-wide sums; a pool's own counts are its `stats`.
 *
 * @internal
 */
export const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []

/** @internal */
export const outcomeLabels = {
  finished: [MetricLabel.make("outcome", "finished")],
  failed: [MetricLabel.make("outcome", "failed")],
  cancelled: [MetricLabel.make("outcome", "cancelled")]
} as const

const totals = { running: 0, paused: 0, idle: 0 }

/**
 * Adds a pool's changes to the process-wide occupancy gauges.
 *
 * @internal
 */
export const addOccupancy = (runningDelta: number, pausedDelta: number, idleDelta: number): void => {
  if (runningDelta !== 0) {
    totals.running += runningDelta
    running.unsafeUpdate(totals.running, noLabels)
  }
  if (pausedDelta !== 0) {
    totals.paused += pausedDelta
    paused.unsafeUpdate(totals.paused, noLabels)
  }
  if (idleDelta !== 0) {
    totals.idle += idleDelta
    idle.unsafeUpdate(totals.idle, noLabels)
  }
}
