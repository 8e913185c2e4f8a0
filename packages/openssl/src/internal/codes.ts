import type * as Api from "../Async.js"

/** @internal */
export const ASYNC_ERR = 0
/** @internal */
export const ASYNC_NO_JOBS = 1
/** @internal */
export const ASYNC_PAUSE = 2
/** @internal */
export const ASYNC_FINISH = 3

/** A mutable out-parameter, C's `T*`. @internal */
export interface Box<T> {
  value: T
}

/** Whether `u` can serve as an out-parameter (C would crash on NULL). @internal */
export const isBox = (u: unknown): u is Box<unknown> => typeof u === "object" && u !== null

/** Whether `u` is C's `int`. @internal */
export const isInt = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u)

/** @internal */
export const noop = (): void => {}

/** A job function. @internal */
export type JobFn = (args: any) => number | Promise<number>

/** A wait fd's cleanup routine. @internal */
export type CleanupFn = (ctx: Api.ASYNC_WAIT_CTX, key: unknown, fd: number, custom_data: unknown) => void
