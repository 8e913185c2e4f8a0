/**
 * The wait ctx (`ASYNC_WAIT_CTX`): where a paused job publishes what it waits
 * for, and where the application learns when to resume it.
 *
 * A wait ctx is a Scope-managed resource. It holds:
 *
 * - keyed wait fds ({@link setWaitFd}), each with custom data and an optional
 *   cleanup that runs exactly once, as a finalizer, when the ctx's scope
 *   closes (never on {@link clearFd});
 * - the bookkeeping of the fds added and deleted since the last reset
 *   ({@link getChangedFds}), reset only when a job bound to the ctx is resumed;
 * - a callback and a status (`ASYNC_WAIT_CTX_set_callback`, `ASYNC_WAIT_CTX_set_status`), which the
 *   library never touches;
 * - {@link awaitReady}, the `select()` of the man page: it completes when the
 *   paused job should be resumed.
 *
 * Closing a ctx while a job bound to it is paused cancels that job first (its
 * finalizers run), then runs the cleanups (OpenSSL leaves such a job dangling
 * on a freed ctx).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/waitCtx.js"
import * as WaitFd from "./WaitFd.js"

/**
 * The brand of wait ctxs: a wait ctx carries it as a key (see {@link isWaitCtx}).
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
 * A wait ctx. Use it with the functions of this module; it lives until the
 * scope it was made in closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitCtx extends Pipeable {
  readonly [TypeId]: TypeId
  /** A number unique in this process, for logs. */
  readonly id: number
}

/**
 * The cleanup of a wait fd, run when the ctx closes while the entry is live.
 *
 * @param entry - The entry being cleaned up: its ctx, key, fd and custom data.
 * @since 0.1.0
 * @category models
 */
export type Cleanup = (entry: {
  readonly ctx: WaitCtx
  readonly key: unknown
  readonly fd: WaitFd.WaitFd
  readonly customData: unknown
}) => Effect.Effect<void>

/**
 * Options of {@link setWaitFd}: `customData`, returned with the fd by {@link getFd}, and `cleanup`, run
 * once when the ctx closes while the fd is live (never on {@link clearFd}).
 *
 * @since 0.1.0
 * @category models
 */
export interface SetWaitFdOptions {
  readonly customData?: unknown
  readonly cleanup?: Cleanup | undefined
}

/**
 * What {@link getFd} finds for a key.
 *
 * @since 0.1.0
 * @category models
 */
export interface FdEntry {
  readonly fd: WaitFd.WaitFd
  readonly customData: unknown
}

/**
 * The fds added and removed since the last reset, newest first. Their lengths
 * are OpenSSL's `numaddfds` and `numdelfds`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChangedFds {
  readonly added: ReadonlyArray<WaitFd.WaitFd>
  readonly deleted: ReadonlyArray<WaitFd.WaitFd>
}

/**
 * A callback as in `ASYNC_WAIT_CTX_set_callback`: the engine calls it (through
 * {@link invokeCallback}) when the job is ready to be resumed.
 *
 * @param arg - The argument stored with the callback by {@link setCallback}.
 * @since 0.1.0
 * @category models
 */
export type Callback = (arg: unknown) => number

/**
 * The status values of `ASYNC_WAIT_CTX_set_status` (`ASYNC_STATUS_*`), by name.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "unsupported" | "err" | "ok" | "eagain"

/**
 * OpenSSL's integer for each {@link Status} (`ASYNC_STATUS_*`).
 *
 * @since 0.1.0
 * @category constants
 */
export const StatusCode: { readonly [K in Status]: number } = {
  unsupported: 0,
  err: 1,
  ok: 2,
  eagain: 3
}

const statusNames: ReadonlyArray<Status> = ["unsupported", "err", "ok", "eagain"]

/**
 * Creates a wait ctx in the current scope: no fds, no callback, status
 * `"unsupported"`. Closing the scope cancels any job still bound to it, then
 * runs the cleanup of every live fd, newest first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as WaitCtx from "@async-job/core/WaitCtx"
 * import * as WaitFd from "@async-job/core/WaitFd"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const ctx = yield* WaitCtx.make
 *   const fd = yield* WaitFd.make
 *   yield* WaitCtx.setWaitFd(ctx, "engine", fd, {
 *     cleanup: () => Effect.log("closed with the ctx")
 *   })
 *   return (yield* WaitCtx.getAllFds(ctx)).length // 1
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<WaitCtx, never, Scope.Scope> = internal.make

const impl = (self: WaitCtx) => self as internal.WaitCtxImpl

/**
 * Registers `fd` under `key` (`ASYNC_WAIT_CTX_set_wait_fd`). No duplicate
 * check: a second fd under the same key is added in front and wins lookups.
 *
 * @param self - The wait ctx.
 * @param key - Any value, a wait ctx included; keys are compared by identity.
 * @param fd - The wait fd to publish.
 * @param options - Custom data and a cleanup for the entry.
 * @since 0.1.0
 * @category combinators
 */
export const setWaitFd: {
  (key: unknown, fd: WaitFd.WaitFd, options?: SetWaitFdOptions): (self: WaitCtx) => Effect.Effect<void>
  (self: WaitCtx, key: unknown, fd: WaitFd.WaitFd, options?: SetWaitFdOptions): Effect.Effect<void>
} = dual(
  // by arity, as effect's own duals: a key may be any value, a wait ctx included
  (args) => args.length >= 4 || (args.length === 3 && WaitFd.isWaitFd(args[2])),
  (self: WaitCtx, key: unknown, fd: WaitFd.WaitFd, options?: SetWaitFdOptions) =>
    Effect.sync(() => internal.setWaitFdUnsafe(impl(self), key, fd, options))
)

/**
 * The newest live fd under `key` (keys are compared by identity), with its
 * custom data (`ASYNC_WAIT_CTX_get_fd`).
 *
 * @param self - The wait ctx.
 * @param key - The key the fd was set under.
 * @since 0.1.0
 * @category getters
 */
export const getFd: {
  (key: unknown): (self: WaitCtx) => Effect.Effect<Option.Option<FdEntry>>
  (self: WaitCtx, key: unknown): Effect.Effect<Option.Option<FdEntry>>
} = dual(2, (self: WaitCtx, key: unknown) => Effect.sync(() => internal.getFdUnsafe(impl(self), key)))

/**
 * Every live fd, newest first (`ASYNC_WAIT_CTX_get_all_fds`).
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const getAllFds = (self: WaitCtx): Effect.Effect<ReadonlyArray<WaitFd.WaitFd>> =>
  Effect.sync(() => internal.getAllFdsUnsafe(impl(self)))

/**
 * The fds added and deleted since the last reset (`ASYNC_WAIT_CTX_get_changed_fds`).
 * The reset happens only when a job bound to the ctx is resumed, never at
 * FINISH, as in OpenSSL.
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const getChangedFds = (self: WaitCtx): Effect.Effect<ChangedFds> =>
  Effect.sync(() => internal.getChangedFdsUnsafe(impl(self)))

/**
 * Removes the newest live fd under `key` (`ASYNC_WAIT_CTX_clear_fd`); succeeds
 * with `false` if there is none. The fd's cleanup is never called: close the
 * descriptor yourself. An fd added since the last reset vanishes without a
 * trace; an older one is reported as deleted until the next reset.
 *
 * @param self - The wait ctx.
 * @param key - The key the fd was set under.
 * @since 0.1.0
 * @category combinators
 */
export const clearFd: {
  (key: unknown): (self: WaitCtx) => Effect.Effect<boolean>
  (self: WaitCtx, key: unknown): Effect.Effect<boolean>
} = dual(2, (self: WaitCtx, key: unknown) => Effect.sync(() => internal.clearFdUnsafe(impl(self), key)))

/**
 * Stores a callback and its argument (`ASYNC_WAIT_CTX_set_callback`);
 * `undefined` unsets it. The library never calls it by itself.
 *
 * @param self - The wait ctx.
 * @param callback - The callback, or `undefined` to unset it.
 * @param arg - The argument it is called with.
 * @since 0.1.0
 * @category combinators
 */
export const setCallback: {
  (callback: Callback | undefined, arg?: unknown): (self: WaitCtx) => Effect.Effect<void>
  (self: WaitCtx, callback: Callback | undefined, arg?: unknown): Effect.Effect<void>
} = dual(
  // by arity; with two arguments, data-last's first is the callback (a function, or undefined to unset it)
  (args) => args.length >= 3 || (args.length === 2 && args[0] !== undefined && typeof args[0] !== "function"),
  (self: WaitCtx, callback: Callback | undefined, arg?: unknown) =>
    Effect.sync(() => internal.setCallbackUnsafe(impl(self), callback, arg))
)

/**
 * The stored callback and its argument, if a callback is set
 * (`ASYNC_WAIT_CTX_get_callback`).
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const getCallback = (
  self: WaitCtx
): Effect.Effect<Option.Option<{ readonly callback: Callback; readonly arg: unknown }>> =>
  Effect.sync(() => {
    const ctx = impl(self)
    ctx.assertOpen()
    return ctx.callback === undefined
      ? Option.none()
      : Option.some({ callback: ctx.callback, arg: ctx.callbackArg })
  })

/**
 * What an engine does on completion in callback mode: calls the stored
 * callback (if any) with its argument, and marks the ctx ready so that
 * {@link awaitReady} completes, now or at its next call. Succeeds with the
 * callback's result, or `undefined` when none is set.
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category combinators
 */
export const invokeCallback = (self: WaitCtx): Effect.Effect<number | undefined> =>
  Effect.sync(() => internal.invokeCallbackUnsafe(impl(self)))

/**
 * Stores a status (`ASYNC_WAIT_CTX_set_status`), by name or as an integer of its own
 * (stored verbatim). Setting `"err"` or `"eagain"` marks the ctx ready: the
 * application should resume the job now.
 *
 * @param self - The wait ctx.
 * @param status - A {@link Status} name, or an integer of your own.
 * @since 0.1.0
 * @category combinators
 */
export const setStatus: {
  (status: Status | number): (self: WaitCtx) => Effect.Effect<void>
  (self: WaitCtx, status: Status | number): Effect.Effect<void>
} = dual(
  2,
  (self: WaitCtx, status: Status | number) =>
    Effect.sync(() => internal.setStatusUnsafe(impl(self), typeof status === "number" ? status : StatusCode[status]))
)

/**
 * The stored status as OpenSSL's integer (`ASYNC_WAIT_CTX_get_status`).
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const getStatusCode = (self: WaitCtx): Effect.Effect<number> =>
  Effect.sync(() => {
    const ctx = impl(self)
    ctx.assertOpen()
    return ctx.status
  })

/**
 * The stored status by name, or the raw integer when it is none of the four
 * named values.
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const getStatus = (self: WaitCtx): Effect.Effect<Status | number> =>
  Effect.map(getStatusCode(self), (code) => statusNames[code] ?? code)

/**
 * Completes when a paused job bound to this ctx should be resumed: a live wait
 * fd is readable, or the callback path reported ready ({@link invokeCallback},
 * or status `"err"` / `"eagain"`). With no live fd and no callback it
 * completes at once (polling mode, as OpenSSL's `speed` does). Interruptible.
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category combinators
 */
export const awaitReady = (self: WaitCtx): Effect.Effect<void> => internal.awaitReady(impl(self))

/**
 * Whether the ctx's scope is still open.
 *
 * @param self - The wait ctx.
 * @since 0.1.0
 * @category getters
 */
export const isOpen = (self: WaitCtx): Effect.Effect<boolean> => Effect.sync(() => !impl(self).closed)

/**
 * Whether a value is a wait ctx.
 *
 * @param u - Any value.
 * @since 0.1.0
 * @category guards
 */
export const isWaitCtx: (u: unknown) => u is WaitCtx = internal.isWaitCtx
