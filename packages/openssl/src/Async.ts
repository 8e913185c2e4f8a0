/**
 * OpenSSL's ASYNC API (`ASYNC_start_job(3)`, `ASYNC_WAIT_CTX_new(3)`), function for function, built on
 * `@async-job/core`.
 *
 * - Every job is a core job (an Effect fiber from the thread's core `JobPool`); every wait ctx wraps a core
 *   `WaitCtx` made in its own Scope, which {@link ASYNC_WAIT_CTX_free} closes; descriptor numbers are wrapped
 *   into core `WaitFd`s (`NodeWaitFd.fromFd` of `@async-job/platform-node`).
 * - Each JavaScript thread (the main thread, every worker thread) has its own pool and state.
 * - Out-parameters are mutable boxes `{ value }`; C's `int` results are numbers.
 * - Job functions are `async` and `await ASYNC_pause_job()`; {@link ASYNC_start_job},
 *   {@link ASYNC_cleanup_thread} and {@link ASYNC_WAIT_CTX_free} return promises.
 * - None of these functions throws, and none of their promises rejects, except the pending
 *   `ASYNC_pause_job()` of a job that is being cancelled. Where C would crash (a NULL pointer, a wrong type)
 *   they return the documented failure value: 0, `null` or {@link ASYNC_ERR}.
 *
 * The semantics are OpenSSL 3's, except where OpenSSL crashes, leaks or leaves the outcome undefined: there each
 * function says what it does instead.
 *
 * @example
 * ```ts
 * import {
 *   ASYNC_FINISH,
 *   ASYNC_PAUSE,
 *   ASYNC_pause_job,
 *   ASYNC_start_job,
 *   ASYNC_WAIT_CTX_free,
 *   ASYNC_WAIT_CTX_new
 * } from "@async-job/openssl"
 *
 * const ctx = ASYNC_WAIT_CTX_new()
 * const job = { value: null }
 * const ret = { value: 0 }
 * const add = async (n: number) => {
 *   await ASYNC_pause_job()
 *   return n + 1
 * }
 * // ASYNC_PAUSE
 * let result = await ASYNC_start_job(job, ctx, ret, add, 41)
 * while (result === ASYNC_PAUSE) {
 *   result = await ASYNC_start_job(job, ctx, ret, add, 41)
 * }
 * // result === ASYNC_FINISH, ret.value === 42
 * await ASYNC_WAIT_CTX_free(ctx)
 * ```
 *
 * @since 0.1.0
 */
import * as codes from "./internal/codes.js"
import * as job from "./internal/job.js"
import * as waitCtx from "./internal/waitCtx.js"

/**
 * `ASYNC_start_job`: an error occurred (or the job function threw: see {@link ASYNC_start_job}).
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_ERR = codes.ASYNC_ERR

/**
 * `ASYNC_start_job`: the pool is full; nothing happened, retry once a job of this thread finishes.
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_NO_JOBS = codes.ASYNC_NO_JOBS

/**
 * `ASYNC_start_job`: the job paused; `job.value` holds its handle.
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_PAUSE = codes.ASYNC_PAUSE

/**
 * `ASYNC_start_job`: the job finished; `ret.value` holds its result, `job.value` is `null`.
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_FINISH = codes.ASYNC_FINISH

/**
 * Wait ctx status: the engine does not use the callback mechanism (the default).
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_STATUS_UNSUPPORTED = 0

/**
 * Wait ctx status: a fatal problem; clean up the session.
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_STATUS_ERR = 1

/**
 * Wait ctx status: the request was submitted; expect the callback.
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_STATUS_OK = 2

/**
 * Wait ctx status: a transient problem; resume the job (retry).
 *
 * @since 0.1.0
 * @category constants
 */
export const ASYNC_STATUS_EAGAIN = 3

/**
 * A file descriptor number (C's `OSSL_ASYNC_FD`, an `int` on POSIX).
 *
 * @since 0.1.0
 * @category models
 */
export type OSSL_ASYNC_FD = number

/**
 * A job handle (`ASYNC_JOB*`), opaque. Every job run gets a fresh handle, equal (`===`) in the caller and
 * inside the job; once the run has ended the handle is stale.
 *
 * @since 0.1.0
 * @category models
 */
export interface ASYNC_JOB {
  readonly _tag: "ASYNC_JOB"
}

/**
 * A wait ctx (`ASYNC_WAIT_CTX*`), opaque.
 *
 * @since 0.1.0
 * @category models
 */
export interface ASYNC_WAIT_CTX {
  readonly _tag: "ASYNC_WAIT_CTX"
}

/**
 * Sets this thread's pool limits: at most `max_size` jobs outstanding (0: unbounded) and `init_size` job
 * records created now. Returns 1, or 0 when the sizes are invalid: not integers from 0 to 2^31−1, or
 * `init_size > max_size` (so `(0, n > 0)` fails, as in OpenSSL).
 *
 * **Details**
 *
 * Calling it again replaces the limits; jobs already outstanding count against the new `max_size`
 * (OpenSSL leaks the old pool). Without a call, the first {@link ASYNC_start_job} creates an unbounded pool.
 *
 * @param max_size - The most jobs outstanding at once; 0: unbounded.
 * @param init_size - Job slots created up front; at most `max_size` when that is not 0.
 * @since 0.1.0
 * @category threads
 */
export const ASYNC_init_thread: (max_size: number, init_size: number) => number = job.initThread

/**
 * Frees this thread's pool. Paused or running jobs are cancelled: their pending `ASYNC_pause_job()`
 * rejects with a `JobCancelledError`, so their `finally` blocks run, and their handles become stale. The
 * promise resolves once every cancelled job function has settled. The next start
 * creates a new unbounded pool.
 *
 * **Gotchas**
 *
 * Called from inside a job it does nothing (OpenSSL: undefined behaviour), since it would wait for the
 * calling job to end.
 *
 * @since 0.1.0
 * @category threads
 */
export const ASYNC_cleanup_thread: () => Promise<void> = job.cleanupThread

/**
 * Starts a job (`job.value === null`) or resumes a paused one (`job.value` a handle returned with
 * {@link ASYNC_PAUSE}). Resolves to:
 *
 * - {@link ASYNC_PAUSE}: the job paused; `job.value` is its handle;
 * - {@link ASYNC_FINISH}: the job function returned; `ret.value` is what it returned, `job.value` is `null`;
 * - {@link ASYNC_NO_JOBS}: the pool is full; nothing changed;
 * - {@link ASYNC_ERR}: the call was refused (a stale handle, a job that is not paused, a freed wait ctx,
 *   arguments that cannot be copied, a NULL box): nothing ran and nothing changed; or the job function
 *   threw or rejected, or the job was cancelled while running: `job.value` is `null` and `job.error` holds
 *   the error (a `JobCancelledError` for a cancellation). `job.error` is deleted again by the next call
 *   that answers PAUSE or FINISH.
 *
 * **Details**
 *
 * - `args` is copied: `structuredClone(args)`; for an ArrayBuffer or typed array with
 *   `size`, its first `size` bytes; `null` / `undefined` give the function `null`.
 * - A restart ignores `ctx`, `func`, `args` and `size`, as in OpenSSL.
 * - Jobs may start jobs, several starts may be in flight at once, and
 *   `ctx` may be `null`.
 *
 * @param job - In and out: `value` `null` starts a new job, a paused job's handle resumes it; it holds the
 *   handle of a paused job afterwards, `null` otherwise, and `error` the job's error when it failed.
 * @param ctx - The wait ctx the job publishes its fds on, or `null`.
 * @param ret - Out: the value the job function returned, once it finished.
 * @param func - The job function: may `await ASYNC_pause_job()`; called with the copy of `args`.
 * @param args - The job function's argument, copied.
 * @param size - For a buffer `args`: how many of its bytes to copy.
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_start_job: (
  job: { value: ASYNC_JOB | null; error?: unknown },
  ctx: ASYNC_WAIT_CTX | null,
  ret: { value: number },
  func: (args: any) => number | Promise<number>,
  args: unknown,
  size?: number
) => Promise<number> = job.startJob

/**
 * Pauses the current job: the {@link ASYNC_start_job} that ran it resolves to {@link ASYNC_PAUSE}, and this
 * promise resolves to 1 when the job is resumed. Outside a job, or while pausing is blocked, it resolves to
 * 1 at once. If the job is cancelled while paused, it rejects with a `JobCancelledError`
 * (`error.code === "ERR_ASYNC_JOB_CANCELLED"`).
 *
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_pause_job: () => Promise<number> = job.pauseJob

/**
 * The job whose code is running, anywhere in its async call chain (AsyncLocalStorage); `null` outside any
 * job.
 *
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_get_current_job: () => ASYNC_JOB | null = job.currentJob

/**
 * The wait ctx a job was started with; `null` if it had none, or if the handle is stale.
 *
 * @param job - The job's handle.
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_get_wait_ctx: (job: ASYNC_JOB) => ASYNC_WAIT_CTX | null = job.getWaitCtx

/**
 * Prevents the current job from pausing until a matching {@link ASYNC_unblock_pause}; calls nest. The
 * counter belongs to the job and ends with it. Outside a job: nothing.
 *
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_block_pause: () => void = job.blockPause

/**
 * Undoes one {@link ASYNC_block_pause}; never goes below zero. Outside a job: nothing.
 *
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_unblock_pause: () => void = job.unblockPause

/**
 * 1: jobs are always supported (a job is a fiber, not a stack).
 *
 * @since 0.1.0
 * @category jobs
 */
export const ASYNC_is_capable = (): number => 1

/**
 * A new wait ctx: no fds, no callback, status {@link ASYNC_STATUS_UNSUPPORTED}.
 *
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_new: () => ASYNC_WAIT_CTX = waitCtx.make

/**
 * Frees a wait ctx: cancels any job bound to it first (its pending `ASYNC_pause_job()` rejects, its
 * `finally` blocks run), then calls the cleanup routine of every live fd, newest first, each once; the
 * promise resolves after that. `null`, or a ctx already freed: nothing.
 *
 * **Gotchas**
 *
 * Called from inside a job bound to `ctx` (or from a job started by one) it does nothing, since it would wait
 * for the calling job to end. A cleanup routine that throws does not stop the others.
 *
 * @param ctx - The wait ctx, or `null` (nothing happens).
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_free: (ctx: ASYNC_WAIT_CTX | null) => Promise<void> = job.freeWaitCtx

/**
 * Registers `fd` under `key` (compared by identity) with its custom data and cleanup routine. No duplicate
 * check: a second fd under the same key wins lookups. Returns 1, or 0 for a NULL or freed ctx or an fd that
 * is not an integer.
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param key - Any value; keys are compared by identity.
 * @param fd - The descriptor number.
 * @param custom_data - Returned with the fd by {@link ASYNC_WAIT_CTX_get_fd}.
 * @param cleanup - Called once when the ctx is freed while the fd is set, or `null`.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_set_wait_fd: (
  ctx: ASYNC_WAIT_CTX | null,
  key: unknown,
  fd: OSSL_ASYNC_FD,
  custom_data: unknown,
  cleanup: ((ctx: ASYNC_WAIT_CTX, key: unknown, fd: OSSL_ASYNC_FD, custom_data: unknown) => void) | null
) => number = waitCtx.setWaitFd

/**
 * Finds the newest live fd under `key`: writes `fd.value` and `custom_data.value` and returns 1, or returns 0
 * and writes nothing.
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param key - The key the fd was set under.
 * @param fd - Out: the descriptor.
 * @param custom_data - Out: its custom data.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_get_fd: (
  ctx: ASYNC_WAIT_CTX | null,
  key: unknown,
  fd: { value: OSSL_ASYNC_FD },
  custom_data: { value: unknown }
) => number = waitCtx.getFd

/**
 * Writes the number of live fds to `numfds.value` and, if `fds` is an array, the fds, newest first, from
 * index 0. Returns 1 (0 for a NULL or freed ctx or a NULL `numfds`).
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param fds - Out: filled with the descriptors, newest first; `null` to count them only.
 * @param numfds - Out: how many there are.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_get_all_fds: (
  ctx: ASYNC_WAIT_CTX | null,
  fds: Array<OSSL_ASYNC_FD> | null,
  numfds: { value: number }
) => number = waitCtx.getAllFds

/**
 * Writes the numbers of fds added and deleted since the last reset and, into the arrays that are not `null`,
 * those fds, newest first, from index 0. The reset happens only when a job bound to the ctx is resumed,
 * never at FINISH. Returns 1 (0 for a NULL or freed ctx or a NULL count box).
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param addfd - Out: the descriptors added since the last reset; `null` to count them only.
 * @param numaddfds - Out: how many were added.
 * @param delfd - Out: the descriptors deleted since the last reset; `null` to count them only.
 * @param numdelfds - Out: how many were deleted.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_get_changed_fds: (
  ctx: ASYNC_WAIT_CTX | null,
  addfd: Array<OSSL_ASYNC_FD> | null,
  numaddfds: { value: number },
  delfd: Array<OSSL_ASYNC_FD> | null,
  numdelfds: { value: number }
) => number = waitCtx.getChangedFds

/**
 * Removes the newest live fd under `key`; returns 1, or 0 if there is none. Its cleanup routine is never
 * called: close the descriptor yourself.
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param key - The key the fd was set under.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_clear_fd: (ctx: ASYNC_WAIT_CTX | null, key: unknown) => number = waitCtx.clearFd

/**
 * Stores a callback and its argument (`null` unsets); the library never calls it. Returns 1, or 0 for a NULL
 * ctx.
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param callback - The callback, or `null` to unset it.
 * @param callback_arg - The argument it is called with.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_set_callback: (
  ctx: ASYNC_WAIT_CTX | null,
  callback: ((arg: unknown) => number) | null,
  callback_arg: unknown
) => number = waitCtx.setCallback

/**
 * Writes the stored callback and argument and returns 1, or returns 0 when no callback is set.
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param callback - Out: the callback, `null` if none is set.
 * @param callback_arg - Out: its argument.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_get_callback: (
  ctx: ASYNC_WAIT_CTX | null,
  callback: { value: ((arg: unknown) => number) | null },
  callback_arg: { value: unknown }
) => number = waitCtx.getCallback

/**
 * Stores any integer status verbatim; returns 1 (0 for a NULL ctx or a status that is not an integer).
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @param status - One of the `ASYNC_STATUS_*` values, or an integer of your own.
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_set_status: (ctx: ASYNC_WAIT_CTX | null, status: number) => number = waitCtx.setStatus

/**
 * The stored status (default {@link ASYNC_STATUS_UNSUPPORTED}; 0 for a NULL ctx).
 *
 * @param ctx - The wait ctx (`null`: the call fails).
 * @since 0.1.0
 * @category wait contexts
 */
export const ASYNC_WAIT_CTX_get_status: (ctx: ASYNC_WAIT_CTX | null) => number = waitCtx.getStatus
