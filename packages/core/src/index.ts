/**
 * @since 0.1.0
 */
export * as AsyncJob from "./AsyncJob.js"

/**
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

/**
 * @since 0.1.0
 */
export * as JobMetrics from "./JobMetrics.js"

/**
 * @since 0.1.0
 */
export * as JobPool from "./JobPool.js"

/**
 * @since 0.1.0
 */
export * as WaitCtx from "./WaitCtx.js"

/**
 * @since 0.1.0
 */
export * as WaitFd from "./WaitFd.js"

/**
 * @since 0.1.0
 */
export * as JobObserver from "./JobObserver.js"
