/**
 * @since 0.1.0
 */
export * as EventRecorder from "./EventRecorder.js"

/**
 * @since 0.1.0
 */
export * as JobPoolSuite from "./JobPoolSuite.js"

/**
 * @since 0.1.0
 */
export * as TestEngine from "./TestEngine.js"
