import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Pipeable from "effect/Pipeable"
import * as Scope from "effect/Scope"
import { ClosedError } from "../Errors.js"
import * as JobObserver from "../JobObserver.js"
import type * as WaitCtx from "../WaitCtx.js"
import type * as WaitFd from "../WaitFd.js"

/** @internal */
export const TypeId: typeof WaitCtx.TypeId = Symbol.for("@async-job/core/WaitCtx") as typeof WaitCtx.TypeId

/** @internal */
export interface Entry {
  readonly key: unknown
  readonly fd: WaitFd.WaitFd
  readonly customData: unknown
  readonly cleanup: WaitCtx.Cleanup | undefined
  /** added since the last reset */
  add: boolean
  /** removed since the last reset, kept to be reported */
  del: boolean
}

/**
 * What a wait ctx needs to know of a job bound to it: how to cancel it when
 * the ctx closes (Port decision 8). Implemented by the job engine.
 *
 * @internal
 */
export interface BoundJob {
  readonly cancelForClose: Effect.Effect<void>
}

/** A fiber waiting in `awaitReady`. */
interface Waiter {
  readonly wake: () => void
  readonly watch: (fd: WaitFd.WaitFd) => void
}

let nextId = 1

/** @internal */
export class WaitCtxImpl extends Pipeable.Class implements WaitCtx.WaitCtx {
  readonly [TypeId]: WaitCtx.TypeId = TypeId
  readonly id = nextId++
  /** oldest first; every enumeration walks it backwards (newest first) */
  readonly entries: Array<Entry> = []
  numAdd = 0
  numDel = 0
  callback: WaitCtx.Callback | undefined = undefined
  callbackArg: unknown = undefined
  status = 0
  /** set by the callback path (invokeCallback, EAGAIN/ERR status) and consumed by awaitReady */
  notified = false
  closed = false
  readonly jobs = new Set<BoundJob>()
  readonly waiters = new Set<Waiter>()

  constructor(readonly observer: JobObserver.JobObserver | undefined) {
    super()
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError({ what: "WaitCtx", id: this.id })
  }

  toJSON() {
    return { _id: "WaitCtx", id: this.id, closed: this.closed }
  }
}

const live = (self: WaitCtxImpl): Array<Entry> => {
  const out: Array<Entry> = []
  for (let i = self.entries.length - 1; i >= 0; i--) {
    const entry = self.entries[i]!
    if (!entry.del) out.push(entry)
  }
  return out
}

const findLive = (self: WaitCtxImpl, key: unknown): number => {
  for (let i = self.entries.length - 1; i >= 0; i--) {
    const entry = self.entries[i]!
    if (!entry.del && entry.key === key) return i
  }
  return -1
}

const wakeAll = (self: WaitCtxImpl): void => {
  if (self.waiters.size === 0) return
  for (const waiter of Array.from(self.waiters)) waiter.wake()
}

/** @internal */
export const setWaitFdUnsafe = (
  self: WaitCtxImpl,
  key: unknown,
  fd: WaitFd.WaitFd,
  options?: WaitCtx.SetWaitFdOptions
): void => {
  self.assertOpen()
  self.entries.push({ key, fd, customData: options?.customData, cleanup: options?.cleanup, add: true, del: false })
  self.numAdd++
  for (const waiter of self.waiters) waiter.watch(fd)
}

/** @internal */
export const getFdUnsafe = (self: WaitCtxImpl, key: unknown): Option.Option<WaitCtx.FdEntry> => {
  self.assertOpen()
  const i = findLive(self, key)
  if (i < 0) return Option.none()
  const entry = self.entries[i]!
  return Option.some({ fd: entry.fd, customData: entry.customData })
}

/** @internal */
export const getAllFdsUnsafe = (self: WaitCtxImpl): Array<WaitFd.WaitFd> => {
  self.assertOpen()
  return live(self).map((entry) => entry.fd)
}

/** @internal */
export const getChangedFdsUnsafe = (self: WaitCtxImpl): WaitCtx.ChangedFds => {
  self.assertOpen()
  const added: Array<WaitFd.WaitFd> = []
  const deleted: Array<WaitFd.WaitFd> = []
  for (let i = self.entries.length - 1; i >= 0; i--) {
    const entry = self.entries[i]!
    if (entry.add && !entry.del) added.push(entry.fd)
    else if (entry.del && !entry.add) deleted.push(entry.fd)
  }
  return { added, deleted }
}

/** @internal */
export const clearFdUnsafe = (self: WaitCtxImpl, key: unknown): boolean => {
  self.assertOpen()
  const i = findLive(self, key)
  if (i < 0) return false
  const entry = self.entries[i]!
  if (entry.add) {
    // added in this epoch: nobody has been told of it, so it goes without a trace
    self.entries.splice(i, 1)
    self.numAdd--
  } else {
    entry.del = true
    self.numDel++
  }
  return true
}

/**
 * The reset of the changed-fds bookkeeping, run when a job bound to the ctx
 * is resumed (never at FINISH, as in OpenSSL).
 *
 * @internal
 */
export const resetChanges = (self: WaitCtxImpl): void => {
  if (self.closed) return
  self.numAdd = 0
  self.numDel = 0
  let write = 0
  for (let read = 0; read < self.entries.length; read++) {
    const entry = self.entries[read]!
    if (entry.del) continue
    entry.add = false
    self.entries[write++] = entry
  }
  self.entries.length = write
}

/** @internal */
export const setCallbackUnsafe = (self: WaitCtxImpl, callback: WaitCtx.Callback | undefined, arg: unknown): void => {
  self.assertOpen()
  self.callback = callback
  self.callbackArg = arg
}

/** @internal */
export const invokeCallbackUnsafe = (self: WaitCtxImpl): number | undefined => {
  self.assertOpen()
  const callback = self.callback
  self.notified = true
  wakeAll(self)
  return callback === undefined ? undefined : callback(self.callbackArg)
}

/** @internal */
export const setStatusUnsafe = (self: WaitCtxImpl, status: number): void => {
  self.assertOpen()
  self.status = status
  // ERR and EAGAIN tell the application to resume the job now, as OpenSSL's engines do
  if (status === 1 || status === 3) {
    self.notified = true
    wakeAll(self)
  }
}

/** @internal */
export const awaitReady = (
  self: WaitCtxImpl,
  alsoWakeOn?: (wake: () => void) => () => void
): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    self.assertOpen()
    if (self.notified) {
      self.notified = false
      resume(Effect.void)
      return
    }
    const fds = live(self)
    // polling mode: nothing to wait on (OpenSSL's speed resumes such jobs every pass)
    if (fds.length === 0 && self.callback === undefined) {
      resume(Effect.yieldNow)
      return
    }
    let done = false
    const unsubscribes: Array<() => void> = []
    const finish = () => {
      done = true
      self.waiters.delete(waiter)
      for (const unsubscribe of unsubscribes) unsubscribe()
      unsubscribes.length = 0
    }
    const waiter: Waiter = {
      wake: () => {
        if (done) return
        finish()
        self.notified = false
        resume(Effect.void)
      },
      watch: (fd) => {
        if (done) return
        unsubscribes.push(fd.onReadyUnsafe(waiter.wake))
      }
    }
    self.waiters.add(waiter)
    if (alsoWakeOn !== undefined) unsubscribes.push(alsoWakeOn(waiter.wake))
    for (const entry of fds) {
      waiter.watch(entry.fd)
      if (done) return
    }
    return Effect.sync(() => {
      if (!done) finish()
    })
  })

/**
 * Closing: cancel bound jobs, then run the cleanup of every live entry, newest
 * first, each exactly once; one failing cleanup does not skip the others.
 */
const close = (self: WaitCtxImpl): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (self.closed) return Effect.void
    const jobs = Array.from(self.jobs)
    return Effect.forEach(jobs, (job) => job.cancelForClose, { discard: true, concurrency: "unbounded" }).pipe(
      Effect.andThen(Effect.suspend(() => {
        self.closed = true
        const entries = live(self)
        self.entries.length = 0
        wakeAll(self)
        return Effect.forEach(
          entries,
          ({ cleanup, customData, fd, key }) =>
            cleanup === undefined
              ? Effect.succeed(Exit.void)
              : Effect.exit(Effect.suspend(() => {
                self.observer?.onEvent({ _tag: "CleanupRan", waitCtxId: self.id, key, fd: fd.fd })
                return cleanup({ ctx: self, key, fd, customData })
              })),
          { concurrency: 1 }
        )
      })),
      Effect.flatMap((exits) => {
        self.observer?.onEvent({ _tag: "WaitCtxClosed", waitCtxId: self.id })
        const failures = exits.filter(Exit.isFailure).map((exit) => exit.cause)
        return failures.length === 0
          ? Effect.void
          : Effect.failCause(failures.reduce((all, cause) => Cause.combine(all, cause)))
      })
    )
  })

/** @internal */
export const make: Effect.Effect<WaitCtx.WaitCtx, never, Scope.Scope> = Effect.uninterruptible(
  Effect.flatMap(Effect.zip(Effect.scope, Effect.serviceOption(JobObserver.JobObserver)), ([scope, observer]) => {
    const self = new WaitCtxImpl(Option.getOrUndefined(observer))
    // the finalizer is registered before the ctx is handed out; it runs to its end even when the
    // fiber closing the scope is interrupted, or the cleanups would never run (the scope counts as closed)
    return Effect.as(Scope.addFinalizer(scope, Effect.uninterruptible(close(self))), self)
  })
)

/** @internal */
export const isWaitCtx = (u: unknown): u is WaitCtx.WaitCtx => typeof u === "object" && u !== null && TypeId in u

/** @internal */
export const implOrUndefined = (ctx: WaitCtx.WaitCtx | undefined): WaitCtxImpl | undefined =>
  ctx instanceof WaitCtxImpl ? ctx : undefined
