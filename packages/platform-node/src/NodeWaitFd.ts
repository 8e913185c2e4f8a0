/**
 * Real OS wait fds on Node: the `pipe()` / `select()` half of OpenSSL's ASYNC API.
 *
 * - {@link makePipe} (scoped) and {@link makePipeUnsafe} create a {@link PipeWaitFd}: a core
 *   `WaitFd` over a real pipe whose read end becomes readable when a byte is written to its write end,
 *   from this thread, another thread or another process.
 * - {@link fromFd} views any descriptor number as a core `WaitFd`.
 * - {@link awaitReadable} (Effect) and {@link waitReadable} (Promise) wait until a descriptor is readable
 *   without blocking the event loop and without reading from it.
 * - {@link pipe}, {@link writeByte}, {@link readByte}, {@link drain}, {@link isReadable} and {@link close}
 *   are the synchronous, non-blocking descriptor operations the OpenSSL man page example uses.
 *
 * **Details**
 *
 * A native addon (Node-API, built by the package's install script) creates pipes with
 * `pipe2(O_CLOEXEC | O_NONBLOCK)` and waits through a private epoll set per thread, watched by one libuv
 * poll handle on that thread's event loop. A descriptor is watched only while someone waits on it; it is
 * reported once and then unwatched, so waiting never consumes data and a readable descriptor never spins.
 * Linux only.
 *
 * @since 0.1.0
 */
import type * as WaitFd from "@async-job/core/WaitFd"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/nodeWaitFd.js"

/**
 * A failed descriptor operation, with the system call and the error code (`"EBADF"`, `"EMFILE"`, ...).
 * Waiting fails with code `"EBADF"` when the descriptor is closed (through {@link close}) while waited on.
 *
 * @since 0.1.0
 * @category errors
 */
export class FdError extends Data.TaggedError("FdError")<{
  /** The failed system call: `"pipe2"`, `"read"`, `"write"`, `"poll"`, `"epoll_ctl"`, `"close"`. */
  readonly syscall: string
  /** The descriptor number (`-1` for `pipe2`). */
  readonly fd: number
  /** The error code: `"EBADF"`, `"EMFILE"`, `"EPIPE"`, ... */
  readonly code: string
  readonly message: string
}> {}

/**
 * A core `WaitFd` viewing an OS descriptor number. It owns nothing and closes nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeWaitFd extends WaitFd.WaitFd {
  readonly _tag: "NodeWaitFd"
}

/**
 * A core `WaitFd` over a pipe this package created: `fd` is the read end (what the wait ctx reports),
 * `writeFd` the write end.
 *
 * **Gotchas**
 *
 * After `closeUnsafe` both numbers are free for the OS to reuse: keep using the object (its methods
 * check), never the bare numbers.
 *
 * @since 0.1.0
 * @category models
 */
export interface PipeWaitFd extends WaitFd.WaitFd {
  readonly _tag: "PipeWaitFd"
  /** The write end. Pass it to another thread or process to let it wake the waiter. */
  readonly writeFd: number
  /** Writes one byte to the write end. Throws an `FdError` once closed. */
  readonly signalUnsafe: () => void
  /** Reads every byte available without blocking; returns whether there was any. `false` once closed. */
  readonly clearUnsafe: () => boolean
  /** Whether the read end is readable right now. `false` once closed. */
  readonly isReadableUnsafe: () => boolean
  /** Whether `closeUnsafe` has run. */
  readonly isClosedUnsafe: () => boolean
  /**
   * Closes both ends, once: later calls do nothing. Waiters on the read end are woken first
   * (their waits fail with an `FdError`; `onReadyUnsafe` subscribers are called).
   */
  readonly closeUnsafe: () => void
}

/**
 * Creates a pipe as a {@link PipeWaitFd}; the scope's finalizer closes both ends.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as WaitFd from "@async-job/core/WaitFd"
 * import * as NodeWaitFd from "@async-job/platform-node/NodeWaitFd"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const fd = yield* NodeWaitFd.makePipe
 *     yield* NodeWaitFd.signal(fd)
 *     yield* WaitFd.awaitReady(fd) // completes: a byte is in the pipe
 *     return yield* NodeWaitFd.clear(fd) // true: it read the byte
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePipe: Effect.Effect<PipeWaitFd, FdError, Scope.Scope> = internal.makePipe

/**
 * The synchronous form of {@link makePipe}: the caller must call `closeUnsafe`. Throws an {@link FdError}
 * when no descriptor is left (`EMFILE`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makePipeUnsafe: () => PipeWaitFd = internal.makePipeUnsafe

/**
 * Views an OS descriptor number as a core `WaitFd`, readable when `select()` would say so (data, end of
 * file or an error pending). Nothing is read and nothing is closed.
 *
 * **Gotchas**
 *
 * `onReadyUnsafe` also calls back at once when the number cannot be waited on (not an open descriptor),
 * rather than never: the resumed job then finds out by reading.
 *
 * @param fd - Any descriptor number.
 * @since 0.1.0
 * @category constructors
 */
export const fromFd: (fd: number) => NodeWaitFd = internal.fromFd

/**
 * Writes one byte to a pipe's write end, waking its waiters.
 *
 * @param self - The pipe wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const signal: (self: PipeWaitFd) => Effect.Effect<void, FdError> = internal.signal

/**
 * Reads every byte available from a pipe's read end without blocking. Succeeds with `true` if there was any.
 *
 * @param self - The pipe wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const clear: (self: PipeWaitFd) => Effect.Effect<boolean, FdError> = internal.clear

/**
 * Completes when the descriptor is readable, without reading from it and without blocking the event loop.
 * Interruptible: interrupting it stops watching the descriptor.
 *
 * Fails with an {@link FdError} when the number is not an open descriptor, or when {@link close} closes it
 * during the wait.
 *
 * @param fd - The descriptor to wait on.
 * @since 0.1.0
 * @category combinators
 */
export const awaitReadable: (fd: number) => Effect.Effect<void, FdError> = internal.awaitReadable

/**
 * The Promise form of {@link awaitReadable}: resolves when the descriptor is readable. Aborting `signal`
 * stops watching and rejects with the signal's reason.
 *
 * @example
 * ```ts
 * import * as NodeWaitFd from "@async-job/platform-node/NodeWaitFd"
 *
 * const [readFd, writeFd] = NodeWaitFd.pipe()
 * NodeWaitFd.writeByte(writeFd)
 * await NodeWaitFd.waitReadable(readFd)
 * NodeWaitFd.readByte(readFd) // true
 * NodeWaitFd.close(readFd)
 * NodeWaitFd.close(writeFd)
 * ```
 *
 * @param fd - The descriptor to wait on.
 * @param options - `signal`: aborting it stops watching and rejects with the signal's reason.
 * @since 0.1.0
 * @category promises
 */
export const waitReadable: (
  fd: number,
  options?: { readonly signal?: AbortSignal | undefined } | undefined
) => Promise<void> = internal.waitReadable

/**
 * Creates a pipe: `[readFd, writeFd]`, both non-blocking and close-on-exec (a child process gets one only
 * when it is passed in `stdio`). Close each end with {@link close}. Throws an {@link FdError} (`EMFILE`).
 *
 * @since 0.1.0
 * @category file descriptors
 */
export const pipe: () => [readFd: number, writeFd: number] = internal.pipe

/**
 * Writes one byte without blocking. Returns `false` when the pipe is full (it is readable then anyway).
 * Throws an {@link FdError} (`EBADF`, or `EPIPE` when every read end is closed).
 *
 * @param fd - The write end of a pipe.
 * @since 0.1.0
 * @category file descriptors
 */
export const writeByte: (fd: number) => boolean = internal.writeByte

/**
 * Reads one byte without blocking. Returns whether a byte was read (`false` when nothing is there, or at
 * end of file). Throws an {@link FdError} (`EBADF`).
 *
 * @param fd - The read end of a pipe.
 * @since 0.1.0
 * @category file descriptors
 */
export const readByte: (fd: number) => boolean = internal.readByte

/**
 * Reads every byte available without blocking; returns how many. Throws an {@link FdError} (`EBADF`).
 *
 * @param fd - The read end of a pipe.
 * @since 0.1.0
 * @category file descriptors
 */
export const drain: (fd: number) => number = internal.drain

/**
 * Whether reading the descriptor would not block right now (`select()` with a zero timeout). Reads nothing.
 * Throws an {@link FdError} (`EBADF`).
 *
 * @param fd - Any descriptor.
 * @since 0.1.0
 * @category file descriptors
 */
export const isReadable: (fd: number) => boolean = internal.isReadable

/**
 * Closes a descriptor created by {@link pipe} or a {@link PipeWaitFd}, in any thread of the process, after
 * stopping this thread's waits on it (they fail with an {@link FdError}). Returns whether this call closed
 * it.
 *
 * **Gotchas**
 *
 * Idempotent: a second call, or a number this package did not create, returns `false` and touches
 * nothing, so a number the OS has since reused elsewhere is never closed by mistake. Close other
 * descriptors with `fs.closeSync`, and never close a descriptor that is being waited on behind this
 * package's back.
 *
 * @param fd - The descriptor to close.
 * @since 0.1.0
 * @category file descriptors
 */
export const close: (fd: number) => boolean = internal.close

/**
 * How many descriptors this thread is watching right now (0 when no wait is pending). For tests: a wait
 * that was interrupted or aborted must not leave its descriptor watched.
 *
 * @since 0.1.0
 * @category testing
 */
export const watchedFdCount: () => number = internal.watchedFdCount
