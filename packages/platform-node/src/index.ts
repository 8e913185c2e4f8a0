/**
 * @since 0.1.0
 */
export * as NodeWaitFd from "./NodeWaitFd.js"
