/**
 * `ASYNC_WAIT_CTX` over a core `WaitCtx`: each facade wait ctx owns a Scope in which its core wait ctx was
 * made; `ASYNC_WAIT_CTX_free` closes that Scope. Descriptor numbers are wrapped into core `WaitFd`s with
 * `NodeWaitFd.fromFd`, so core's `WaitCtx.awaitReady` also works on a facade wait ctx.
 */
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as NodeWaitFd from "@async-job/platform-node/NodeWaitFd"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Api from "../Async.js"
import { type CleanupFn, isBox, isInt } from "./codes.js"

/** @internal */
export class WaitCtxImpl implements Api.ASYNC_WAIT_CTX {
  readonly _tag = "ASYNC_WAIT_CTX"
  /** set once `ASYNC_WAIT_CTX_free` has begun; resolves when it is done */
  freeing: Promise<void> | undefined = undefined
  /** facade jobs bound to this ctx whose function has not settled yet */
  readonly jobs = new Set<{ cancel(): void }>()

  /** what `ASYNC_start_job` passes to core for a job bound to this ctx, made once */
  readonly startOptions: { readonly waitCtx: WaitCtx.WaitCtx }

  constructor(readonly core: WaitCtx.WaitCtx, readonly scope: Scope.Closeable) {
    this.startOptions = { waitCtx: core }
  }

  toJSON() {
    return { _id: "ASYNC_WAIT_CTX", id: this.core.id, freed: this.freeing !== undefined }
  }
}

/** @internal */
export const isWaitCtx = (u: unknown): u is WaitCtxImpl => u instanceof WaitCtxImpl

/**
 * Runs a synchronous core operation; any failure (the core ctx has closed, a cleanup threw) gives `fallback`.
 * These functions must never throw.
 */
const attempt = <A, B>(effect: Effect.Effect<A>, fallback: B): A | B => {
  const exit = Effect.runSyncExit(effect)
  return Exit.isSuccess(exit) ? exit.value : fallback
}

/** @internal */
export const make = (): WaitCtxImpl => {
  const scope = Scope.makeUnsafe()
  return new WaitCtxImpl(Effect.runSync(Scope.provide(WaitCtx.make, scope)), scope)
}

/** @internal */
export const setWaitFd = (
  ctx: unknown,
  key: unknown,
  fd: unknown,
  customData: unknown,
  cleanup: unknown
): number => {
  if (!isWaitCtx(ctx) || !isInt(fd)) return 0
  if (cleanup !== null && cleanup !== undefined && typeof cleanup !== "function") return 0
  const routine = cleanup as CleanupFn | null | undefined
  const coreCleanup: WaitCtx.Cleanup | undefined = typeof routine === "function"
    ? () => Effect.sync(() => routine(ctx, key, fd, customData))
    : undefined
  return attempt(
    Effect.as(WaitCtx.setWaitFd(ctx.core, key, NodeWaitFd.fromFd(fd), { customData, cleanup: coreCleanup }), 1),
    0
  )
}

/** @internal */
export const getFd = (ctx: unknown, key: unknown, fd: unknown, customData: unknown): number => {
  if (!isWaitCtx(ctx) || !isBox(fd) || !isBox(customData)) return 0
  const found = attempt(WaitCtx.getFd(ctx.core, key), Option.none())
  if (Option.isNone(found)) return 0
  fd.value = found.value.fd.fd
  customData.value = found.value.customData
  return 1
}

/** Writes `values` from index 0; C's caller sizes the array, here a JavaScript array grows as needed. */
const fill = (target: unknown, values: ReadonlyArray<{ readonly fd: number }>): void => {
  if (target === null || target === undefined) return
  const array = target as Array<number>
  for (let i = 0; i < values.length; i++) array[i] = values[i]!.fd
}

const isFdArray = (u: unknown): boolean =>
  u === null || u === undefined || Array.isArray(u) || (ArrayBuffer.isView(u) && !(u instanceof DataView))

/** @internal */
export const getAllFds = (ctx: unknown, fds: unknown, numfds: unknown): number => {
  if (!isWaitCtx(ctx) || !isBox(numfds) || !isFdArray(fds)) return 0
  const all = attempt(WaitCtx.getAllFds(ctx.core), undefined)
  if (all === undefined) return 0
  numfds.value = all.length
  fill(fds, all)
  return 1
}

/** @internal */
export const getChangedFds = (
  ctx: unknown,
  addfd: unknown,
  numaddfds: unknown,
  delfd: unknown,
  numdelfds: unknown
): number => {
  if (!isWaitCtx(ctx) || !isBox(numaddfds) || !isBox(numdelfds) || !isFdArray(addfd) || !isFdArray(delfd)) return 0
  const changed = attempt(WaitCtx.getChangedFds(ctx.core), undefined)
  if (changed === undefined) return 0
  numaddfds.value = changed.added.length
  numdelfds.value = changed.deleted.length
  fill(addfd, changed.added)
  fill(delfd, changed.deleted)
  return 1
}

/** @internal */
export const clearFd = (ctx: unknown, key: unknown): number =>
  isWaitCtx(ctx) && attempt(WaitCtx.clearFd(ctx.core, key), false) ? 1 : 0

/** @internal */
export const setCallback = (ctx: unknown, callback: unknown, callbackArg: unknown): number => {
  if (!isWaitCtx(ctx)) return 0
  if (callback !== null && callback !== undefined && typeof callback !== "function") return 0
  const fn = (callback ?? undefined) as WaitCtx.Callback | undefined
  return attempt(Effect.as(WaitCtx.setCallback(ctx.core, fn, callbackArg), 1), 0)
}

/** @internal */
export const getCallback = (ctx: unknown, callback: unknown, callbackArg: unknown): number => {
  if (!isWaitCtx(ctx) || !isBox(callback) || !isBox(callbackArg)) return 0
  const found = attempt(WaitCtx.getCallback(ctx.core), Option.none())
  if (Option.isNone(found)) return 0
  callback.value = found.value.callback
  callbackArg.value = found.value.arg
  return 1
}

/** @internal */
export const setStatus = (ctx: unknown, status: unknown): number =>
  isWaitCtx(ctx) && isInt(status) ? attempt(Effect.as(WaitCtx.setStatus(ctx.core, status), 1), 0) : 0

/** @internal */
export const getStatus = (ctx: unknown): number => isWaitCtx(ctx) ? attempt(WaitCtx.getStatusCode(ctx.core), 0) : 0
