/**
 * Wait fds: the wake-up sources that a paused job publishes on its wait ctx.
 *
 * In OpenSSL a wait fd is an OS file descriptor that becomes readable when the
 * job should be resumed. Here a wait fd is anything with a number (`fd`, what
 * `ASYNC_WAIT_CTX_get_all_fds` reports) and level-triggered readiness.
 *
 * - {@link make} builds the default, in-process wait fd: a signal with no OS
 *   resources behind it. Its numbers are negative, so they never collide with
 *   a real descriptor.
 * - `@async-job/platform-node` builds wait fds over real OS pipes.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/waitFd.js"

/**
 * The brand of wait fds: a wait fd carries it as a key (see {@link isWaitFd}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The contract every kind of wait fd fulfils. A wait ctx holds wait fds of any
 * kind side by side.
 *
 * **Details**
 *
 * Readiness is level-triggered: `onReadyUnsafe` calls its callback once, as
 * soon as the fd is readable (at once if it already is), unless the returned
 * function is called first to unsubscribe. Consuming the readiness (reading
 * the byte, {@link clear}) is the job's business, after it resumes.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitFd {
  readonly [TypeId]: TypeId
  /** The number reported by `getAllFds` / `ASYNC_WAIT_CTX_get_all_fds`. */
  readonly fd: number
  /**
   * Calls `onReady` once when the fd is readable; returns an unsubscribe
   * function. Must not throw.
   */
  readonly onReadyUnsafe: (onReady: () => void) => () => void
}

/**
 * The default wait fd: an in-process signal, no OS resources.
 *
 * @since 0.1.0
 * @category models
 */
export interface InProcessWaitFd extends WaitFd {
  readonly _tag: "InProcessWaitFd"
  /** Whether the fd is signalled ("readable") right now. */
  readonly isSignalledUnsafe: () => boolean
  /** Marks the fd readable and wakes every subscriber. */
  readonly signalUnsafe: () => void
  /** Consumes the signal, like reading the byte from a pipe. Returns whether one was pending. */
  readonly clearUnsafe: () => boolean
}

/**
 * Creates an in-process wait fd with a fresh negative number.
 *
 * @example
 * ```ts
 * import * as WaitFd from "@async-job/core/WaitFd"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const fd = yield* WaitFd.make
 *   yield* WaitFd.signal(fd)
 *   // completes at once: the fd is signalled
 *   yield* WaitFd.awaitReady(fd)
 *   return yield* WaitFd.clear(fd) // true: a signal was pending
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<InProcessWaitFd> = internal.make

/**
 * The synchronous form of {@link make}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe: () => InProcessWaitFd = internal.makeUnsafe

/**
 * Signals an in-process wait fd: it becomes readable.
 *
 * @param self - The in-process wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const signal: (self: InProcessWaitFd) => Effect.Effect<void> = internal.signal

/**
 * Consumes the signal of an in-process wait fd. Succeeds with `true` if one was pending.
 *
 * @param self - The in-process wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const clear: (self: InProcessWaitFd) => Effect.Effect<boolean> = internal.clear

/**
 * Whether an in-process wait fd is signalled right now.
 *
 * @param self - The in-process wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const isSignalled: (self: InProcessWaitFd) => Effect.Effect<boolean> = internal.isSignalled

/**
 * Completes when the wait fd is readable; works for every kind of wait fd.
 * Interruptible: interrupting it unsubscribes.
 *
 * @param self - A wait fd of any kind.
 * @since 0.1.0
 * @category combinators
 */
export const awaitReady: (self: WaitFd) => Effect.Effect<void> = internal.awaitReady

/**
 * Whether a value is a wait fd.
 *
 * @param u - Any value.
 * @since 0.1.0
 * @category guards
 */
export const isWaitFd: (u: unknown) => u is WaitFd = internal.isWaitFd
