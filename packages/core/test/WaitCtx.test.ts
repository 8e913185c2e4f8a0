/** The wait ctx of spec §2: bookkeeping, cleanups, callback and status, readiness. */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertNone, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Cause, Effect, Exit, Fiber, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as AsyncJob from "../src/AsyncJob.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import * as WaitFd from "../src/WaitFd.js"
import { makeLog, pausedJob } from "./utils.js"

const numbers = (fds: ReadonlyArray<WaitFd.WaitFd>) => fds.map((fd) => fd.fd)

describe("WaitCtx", () => {
  it.effect("a new ctx is empty: no fds, no callback, status unsupported", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      deepStrictEqual(yield* WaitCtx.getAllFds(ctx), [])
      deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [] })
      assertNone(yield* WaitCtx.getCallback(ctx))
      strictEqual(yield* WaitCtx.getStatus(ctx), "unsupported")
      strictEqual(yield* WaitCtx.getStatusCode(ctx), 0)
    }))

  it.effect("keys are compared by identity; duplicates stack newest first", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const [a, b, c] = [WaitFd.makeUnsafe(), WaitFd.makeUnsafe(), WaitFd.makeUnsafe()]
      const key = { name: "k" }
      yield* WaitCtx.setWaitFd(ctx, key, a, { customData: "first" })
      yield* WaitCtx.setWaitFd(ctx, { name: "k" }, b)
      yield* WaitCtx.setWaitFd(ctx, key, c, { customData: "second" })
      deepStrictEqual(numbers(yield* WaitCtx.getAllFds(ctx)), [c.fd, b.fd, a.fd])
      deepStrictEqual(yield* WaitCtx.getFd(ctx, key), Option.some({ fd: c, customData: "second" }))
      assertTrue(yield* WaitCtx.clearFd(ctx, key))
      deepStrictEqual(yield* WaitCtx.getFd(ctx, key), Option.some({ fd: a, customData: "first" }))
      assertTrue(yield* WaitCtx.clearFd(ctx, key))
      assertFalse(yield* WaitCtx.clearFd(ctx, key))
      deepStrictEqual(numbers(yield* WaitCtx.getAllFds(ctx)), [b.fd])
    }))

  it.effect("counters equal the lists; application changes accumulate until a resume", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const ctx = yield* WaitCtx.make
      const [a, b] = [WaitFd.makeUnsafe(), WaitFd.makeUnsafe()]
      yield* WaitCtx.setWaitFd(ctx, "a", a)
      const job = yield* pausedJob(yield* pool.start(AsyncJob.pause, { waitCtx: ctx }))
      // no reset when a job starts
      deepStrictEqual(numbers((yield* WaitCtx.getChangedFds(ctx)).added), [a.fd])
      yield* pool.resume(job)
      deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [] })
      yield* WaitCtx.setWaitFd(ctx, "b", b)
      yield* WaitCtx.clearFd(ctx, "a")
      const changes = yield* WaitCtx.getChangedFds(ctx)
      deepStrictEqual([numbers(changes.added), numbers(changes.deleted)], [[b.fd], [a.fd]])
      // a deleted fd is hidden from lookups at once
      assertNone(yield* WaitCtx.getFd(ctx, "a"))
      deepStrictEqual(numbers(yield* WaitCtx.getAllFds(ctx)), [b.fd])
    }))

  it.effect("a blocked pause does not reset the bookkeeping", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const ctx = yield* WaitCtx.make
      const fd = WaitFd.makeUnsafe()
      const body = Effect.gen(function*() {
        yield* WaitCtx.setWaitFd(ctx, "k", fd)
        yield* AsyncJob.withPauseBlocked(AsyncJob.pause)
        return (yield* WaitCtx.getChangedFds(ctx)).added.length
      })
      deepStrictEqual(yield* pool.start(body, { waitCtx: ctx }), { _tag: "Finished", value: 1 })
    }))

  it.effect("cleanups run exactly once at close, newest first, never for cleared entries", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const scope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, scope)
      const pool = yield* Scope.provide(JobPool.make(), scope)
      const cleanup: WaitCtx.Cleanup = ({ customData, key }) => log.add(`cleanup ${String(key)} ${String(customData)}`)
      yield* WaitCtx.setWaitFd(ctx, "old", WaitFd.makeUnsafe(), { customData: 1, cleanup })
      yield* WaitCtx.setWaitFd(ctx, "new", WaitFd.makeUnsafe(), { customData: 2, cleanup })
      yield* WaitCtx.setWaitFd(ctx, "fresh-cleared", WaitFd.makeUnsafe(), { customData: 3, cleanup })
      yield* WaitCtx.clearFd(ctx, "fresh-cleared")
      // move "old" and "new" into an earlier epoch, then clear "old": reported deleted, no cleanup
      const job = yield* pausedJob(yield* pool.start(AsyncJob.pause, { waitCtx: ctx }))
      yield* pool.resume(job)
      yield* WaitCtx.clearFd(ctx, "old")
      yield* WaitCtx.setWaitFd(ctx, "no-cleanup", WaitFd.makeUnsafe())
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual(yield* log.get, ["cleanup new 2"])
    }))

  it.effect("using a closed ctx is a defect", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, scope)
      yield* Scope.close(scope, Exit.void)
      assertFalse(yield* WaitCtx.isOpen(ctx))
      const exit = yield* Effect.exit(WaitCtx.setWaitFd(ctx, "k", WaitFd.makeUnsafe()))
      assertTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    }))

  it.effect("status stores any integer verbatim; named statuses map to OpenSSL's codes", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      for (const [status, code] of Object.entries(WaitCtx.StatusCode)) {
        yield* WaitCtx.setStatus(ctx, status as WaitCtx.Status)
        strictEqual(yield* WaitCtx.getStatusCode(ctx), code)
        strictEqual(yield* WaitCtx.getStatus(ctx), status as WaitCtx.Status)
      }
      yield* WaitCtx.setStatus(ctx, 42)
      strictEqual(yield* WaitCtx.getStatus(ctx), 42)
      yield* WaitCtx.setCallback(ctx, undefined)
      assertNone(yield* WaitCtx.getCallback(ctx))
      strictEqual(yield* WaitCtx.invokeCallback(ctx), undefined)
    }))

  describe("awaitReady", () => {
    it.effect("completes when a live fd is signalled, not before", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fd = yield* WaitFd.make
        yield* WaitCtx.setWaitFd(ctx, "k", fd)
        const waiter = yield* Effect.forkChild(WaitCtx.awaitReady(ctx))
        yield* TestClock.adjust("1 hour")
        assertTrue(waiter.pollUnsafe() === undefined)
        yield* WaitFd.signal(fd)
        yield* Fiber.join(waiter)
      }))

    it.effect("watches an fd added while it waits", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        yield* WaitCtx.setWaitFd(ctx, "first", WaitFd.makeUnsafe())
        const waiter = yield* Effect.forkChild(WaitCtx.awaitReady(ctx))
        yield* Effect.yieldNow
        const late = WaitFd.makeUnsafe()
        yield* WaitCtx.setWaitFd(ctx, "late", late)
        late.signalUnsafe()
        yield* Fiber.join(waiter)
      }))

    it.effect("completes at once with no fd and no callback (polling mode)", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        yield* WaitCtx.awaitReady(ctx)
      }))

    it.effect("callback mode: the engine's callback, or status EAGAIN/ERR, makes it ready", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const calls: Array<unknown> = []
        yield* WaitCtx.setCallback(ctx, (arg) => calls.push(arg), "arg")
        yield* WaitCtx.setStatus(ctx, "ok")
        const waiter = yield* Effect.forkChild(WaitCtx.awaitReady(ctx))
        yield* TestClock.adjust("1 minute")
        assertTrue(waiter.pollUnsafe() === undefined)
        strictEqual(yield* WaitCtx.invokeCallback(ctx), 1)
        yield* Fiber.join(waiter)
        deepStrictEqual(calls, ["arg"])
        // a callback fired before anyone waits (dasync calls it before pausing) is not lost
        yield* WaitCtx.invokeCallback(ctx)
        yield* WaitCtx.awaitReady(ctx)
        for (const status of ["eagain", "err"] as const) {
          const again = yield* Effect.forkChild(WaitCtx.awaitReady(ctx))
          yield* Effect.yieldNow
          yield* WaitCtx.setStatus(ctx, status)
          yield* Fiber.join(again)
        }
      }))

    it.effect("is interruptible and unsubscribes", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fd = WaitFd.makeUnsafe()
        let subscribed = 0
        const counting: WaitFd.WaitFd = {
          ...fd,
          fd: fd.fd,
          onReadyUnsafe: (cb) => {
            subscribed++
            const unsubscribe = fd.onReadyUnsafe(cb)
            return () => {
              subscribed--
              unsubscribe()
            }
          }
        }
        yield* WaitCtx.setWaitFd(ctx, "k", counting)
        const waiter = yield* Effect.forkChild(WaitCtx.awaitReady(ctx))
        yield* Effect.yieldNow
        strictEqual(subscribed, 1)
        yield* Fiber.interrupt(waiter)
        strictEqual(subscribed, 0)
      }))
  })

  it.effect("WaitCtx and Job are Pipeable, and the wait ctx functions read data-last", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const fd = WaitFd.makeUnsafe()
      yield* ctx.pipe(WaitCtx.setWaitFd("key", fd, { customData: "data" }))
      const entry = yield* ctx.pipe(WaitCtx.getFd("key"))
      strictEqual(Option.getOrThrow(entry).customData, "data")
      deepStrictEqual((yield* ctx.pipe(WaitCtx.getChangedFds)).added, [fd])
      yield* ctx.pipe(WaitCtx.setStatus("eagain"))
      strictEqual(yield* ctx.pipe(WaitCtx.getStatus), "eagain")
      yield* ctx.pipe(WaitCtx.setCallback(() => 7, "arg"))
      strictEqual(yield* ctx.pipe(WaitCtx.invokeCallback), 7)
      assertTrue(yield* ctx.pipe(WaitCtx.clearFd("key")))
      const pool = yield* JobPool.make()
      const job = yield* pausedJob(yield* pool.start(AsyncJob.pause, { waitCtx: ctx }))
      strictEqual(job.pipe(AsyncJob.stateUnsafe), "paused")
      strictEqual(Option.getOrThrow(yield* job.pipe(AsyncJob.waitCtx)), ctx)
      yield* pool.resume(job)
    }))

  it.effect("data-first or data-last is decided by arity: any value is a key, a wait ctx included", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const other = yield* WaitCtx.make
      const fd = WaitFd.makeUnsafe()
      // data-last, keyed by another wait ctx: two arguments, so the first is the key
      yield* ctx.pipe(WaitCtx.setWaitFd(other, fd))
      strictEqual(Option.getOrThrow(yield* WaitCtx.getFd(ctx, other)).fd, fd)
      deepStrictEqual(yield* WaitCtx.getAllFds(other), [])
      // data-last with options, keyed by a wait ctx: three arguments whose last is not a wait fd
      const second = WaitFd.makeUnsafe()
      yield* ctx.pipe(WaitCtx.setWaitFd(other, second, { customData: "second" }))
      strictEqual(Option.getOrThrow(yield* WaitCtx.getFd(ctx, other)).customData, "second")
      // data-first, keyed by a wait ctx
      yield* WaitCtx.setWaitFd(other, ctx, fd)
      strictEqual(Option.getOrThrow(yield* WaitCtx.getFd(other, ctx)).fd, fd)
      // setCallback: with two arguments, data-last's first is the callback (or undefined, to unset it)
      yield* ctx.pipe(WaitCtx.setCallback(() => 1, other))
      strictEqual(Option.getOrThrow(yield* WaitCtx.getCallback(ctx)).arg, other)
      yield* WaitCtx.setCallback(ctx, () => 2)
      strictEqual(yield* WaitCtx.invokeCallback(ctx), 2)
      yield* ctx.pipe(WaitCtx.setCallback(undefined, "ignored"))
      assertTrue(Option.isNone(yield* WaitCtx.getCallback(ctx)))
    }))
})
