/**
 * The metrics every job pool reports, as Effect `Metric`s. Gauges carry a
 * `pool` label with the pool's id; counters of job ends carry an `outcome`
 * label (`finished`, `failed`, `cancelled`).
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
