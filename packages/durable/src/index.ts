/**
 * @since 0.1.0
 */
export * as DurableJob from "./DurableJob.js"

/**
 * @since 0.1.0
 */
export * as DurableJobPool from "./DurableJobPool.js"

/**
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"
