/**
 * The metrics every job pool reports, as Effect `Metric`s, summed over all
 * the pools of the process. Counters of job ends carry an `outcome` label
 * (`finished`, `failed`, `cancelled`).
 *
 * **Gotchas**
 *
 * There is no per-pool label on purpose: Effect's metric registry keeps every
 * key it has seen for the life of the process, so a label per pool would make
 * each pool leave its keys behind. A pool's own counts are `pool.stats`.
 *
 * Read them with `Metric.value`, or export them with any Effect metrics
 * exporter (the offload service serves them as Prometheus text).
 *
 * @since 0.1.0
 */
import type * as Metric from "effect/Metric"
import * as internal from "./internal/metrics.js"

/**
 * @since 0.1.0
 * @category metrics
 */
export const starts: Metric.Metric.Counter<number> = internal.starts
/**
 * @since 0.1.0
 * @category metrics
 */
export const pauses: Metric.Metric.Counter<number> = internal.pauses
/**
 * @since 0.1.0
 * @category metrics
 */
export const resumes: Metric.Metric.Counter<number> = internal.resumes
/**
 * @since 0.1.0
 * @category metrics
 */
export const finishes: Metric.Metric.Counter<number> = internal.finishes
/**
 * @since 0.1.0
 * @category metrics
 */
export const noJobs: Metric.Metric.Counter<number> = internal.noJobs
/**
 * @since 0.1.0
 * @category metrics
 */
export const cancellations: Metric.Metric.Counter<number> = internal.cancellations
/**
 * @since 0.1.0
 * @category metrics
 */
export const running: Metric.Metric.Gauge<number> = internal.running
/**
 * @since 0.1.0
 * @category metrics
 */
export const paused: Metric.Metric.Gauge<number> = internal.paused
/**
 * @since 0.1.0
 * @category metrics
 */
export const idle: Metric.Metric.Gauge<number> = internal.idle
