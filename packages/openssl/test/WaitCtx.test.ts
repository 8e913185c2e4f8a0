/**
 * The wait ctx of spec §2 through the facade: data model, lookups, change bookkeeping, cleanup rules,
 * callback and status, and robustness against NULL and wrong arguments (§2.11, Port decisions).
 */
import * as CoreWaitCtx from "@async-job/core/WaitCtx"
import { NodeWaitFd } from "@async-job/platform-node"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import {
  ASYNC_block_pause,
  ASYNC_FINISH,
  ASYNC_get_current_job,
  ASYNC_get_wait_ctx,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_STATUS_EAGAIN,
  ASYNC_STATUS_UNSUPPORTED,
  type ASYNC_WAIT_CTX,
  ASYNC_WAIT_CTX_clear_fd,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_get_all_fds,
  ASYNC_WAIT_CTX_get_callback,
  ASYNC_WAIT_CTX_get_changed_fds,
  ASYNC_WAIT_CTX_get_fd,
  ASYNC_WAIT_CTX_get_status,
  ASYNC_WAIT_CTX_new,
  ASYNC_WAIT_CTX_set_callback,
  ASYNC_WAIT_CTX_set_status,
  ASYNC_WAIT_CTX_set_wait_fd
} from "../src/index.js"
import { isWaitCtx } from "../src/internal/waitCtx.js"
import { box, closeBoth, expectStart, jobBox, makePipe, onlyPause, useCleanState } from "./utils.js"

const track = useCleanState()

const all = (ctx: ASYNC_WAIT_CTX) => {
  const fds: Array<number> = []
  strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, fds, box(0)), 1)
  return fds
}

const changed = (ctx: ASYNC_WAIT_CTX) => {
  const adds: Array<number> = []
  const dels: Array<number> = []
  const numadd = box(-1)
  const numdel = box(-1)
  strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, adds, numadd, dels, numdel), 1)
  return { adds, dels, numadd: numadd.value, numdel: numdel.value }
}

const getFd = (ctx: ASYNC_WAIT_CTX | null, key: unknown) => {
  const fd = box(-1)
  const data = box<unknown>("untouched")
  const found = ASYNC_WAIT_CTX_get_fd(ctx, key, fd, data)
  return { found, fd: fd.value, data: data.value }
}

/** A job bound to `ctx` that pauses forever; each resume is an epoch reset (§2.8). */
const resetter = async (ctx: ASYNC_WAIT_CTX) => {
  const job = jobBox()
  const body = async () => {
    for (;;) await ASYNC_pause_job()
  }
  await expectStart(ASYNC_PAUSE, job, ctx, box(0), body)
  return () => expectStart(ASYNC_PAUSE, job, ctx, box(0), body)
}

describe("§2.2 new and free", () => {
  it("a new ctx has no fds, no callback and status UNSUPPORTED; free(null) is a no-op", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    deepStrictEqual(all(ctx), [])
    deepStrictEqual(changed(ctx), { adds: [], dels: [], numadd: 0, numdel: 0 })
    strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, box(null), box(null)), 0)
    strictEqual(ASYNC_WAIT_CTX_get_status(ctx), ASYNC_STATUS_UNSUPPORTED)
    await ASYNC_WAIT_CTX_free(null)
    strictEqual(ASYNC_WAIT_CTX_new() === ASYNC_WAIT_CTX_new(), false)
  })

  it("free calls each live entry's cleanup once, newest first, with (ctx, key, fd, custom_data)", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    const calls: Array<ReadonlyArray<unknown>> = []
    const cleanup = (...args: ReadonlyArray<unknown>) => {
      calls.push(args)
    }
    const [k1, k2, k3] = [{}, {}, {}]
    const data = { any: "thing" }
    ASYNC_WAIT_CTX_set_wait_fd(ctx, k1, 1, data, cleanup)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, k2, 2, null, null)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, k3, 3, "three", cleanup)
    await ASYNC_WAIT_CTX_free(ctx)
    deepStrictEqual(calls, [[ctx, k3, 3, "three"], [ctx, k1, 1, data]])
    strictEqual(calls[1]![3], data)
    await ASYNC_WAIT_CTX_free(ctx)
    strictEqual(calls.length, 2)
  })

  it("a cleanup that throws does not stop the others, and free still resolves", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    const calls: Array<string> = []
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "a", 1, null, () => calls.push("a"))
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "b", 2, null, () => {
      calls.push("b")
      throw new Error("b failed")
    })
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "c", 3, null, () => calls.push("c"))
    await ASYNC_WAIT_CTX_free(ctx)
    deepStrictEqual(calls, ["c", "b", "a"])
  })

  it("a freed ctx answers every function with its failure value", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    ASYNC_WAIT_CTX_set_callback(ctx, () => 1, null)
    await ASYNC_WAIT_CTX_free(ctx)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1, null, null), 0)
    deepStrictEqual(getFd(ctx, "k"), { found: 0, fd: -1, data: "untouched" })
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, [], box(0)), 0)
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, box(0), null, box(0)), 0)
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 0)
    strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, null, null), 0)
    strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, box(null), box(null)), 0)
    strictEqual(ASYNC_WAIT_CTX_set_status(ctx, 2), 0)
    strictEqual(ASYNC_WAIT_CTX_get_status(ctx), 0)
  })
})

describe("§2.3–2.5 set, get and all", () => {
  it("no duplicate check: the newest entry under a key wins; all fds are listed newest first", () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const key = {}
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, key, 10, "old", null), 1)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "other", 11, null, null), 1)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, key, 12, "new", null), 1)
    deepStrictEqual(getFd(ctx, key), { found: 1, fd: 12, data: "new" })
    deepStrictEqual(getFd(ctx, {}), { found: 0, fd: -1, data: "untouched" })
    deepStrictEqual(all(ctx), [12, 11, 10])
  })

  it("arrays are filled from index 0 and only as far as the count", () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "a", 4, null, null)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "b", 5, null, null)
    const fds = [-1, -1, -1, -1]
    const numfds = box(0)
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, fds, numfds), 1)
    deepStrictEqual([fds, numfds.value], [[5, 4, -1, -1], 2])
    const typed = new Int32Array(3).fill(-1)
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, typed as unknown as Array<number>, numfds), 1)
    deepStrictEqual(Array.from(typed), [5, 4, -1])
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 1)
    strictEqual(numfds.value, 2)
  })
})

describe("§2.6–2.8 changed fds and epochs", () => {
  it("either array may be null; counts always equal what is listed", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const reset = await resetter(ctx)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "old", 1, null, null)
    await reset()
    ASYNC_WAIT_CTX_clear_fd(ctx, "old")
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "new", 2, null, null)
    const numadd = box(-1)
    const numdel = box(-1)
    const dels: Array<number> = []
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, numadd, dels, numdel), 1)
    deepStrictEqual([numadd.value, numdel.value, dels], [1, 1, [1]])
    const adds: Array<number> = []
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, adds, numadd, null, numdel), 1)
    deepStrictEqual(adds, [2])
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, numadd, null, numdel), 1)
    deepStrictEqual([numadd.value, numdel.value], [1, 1])
  })

  it("clear: an entry added this epoch vanishes; an older one is reported deleted until the next reset", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const reset = await resetter(ctx)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 7, null, null)
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 1)
    deepStrictEqual(changed(ctx), { adds: [], dels: [], numadd: 0, numdel: 0 })
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 8, null, null)
    await reset()
    deepStrictEqual(changed(ctx), { adds: [], dels: [], numadd: 0, numdel: 0 })
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 1)
    deepStrictEqual(all(ctx), [])
    strictEqual(getFd(ctx, "k").found, 0)
    deepStrictEqual(changed(ctx), { adds: [], dels: [8], numadd: 0, numdel: 1 })
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 0)
    await reset()
    deepStrictEqual(changed(ctx), { adds: [], dels: [], numadd: 0, numdel: 0 })
  })

  it("clearing a duplicated key clears the newest first, then the older one", () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1, null, null)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 2, null, null)
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 1)
    deepStrictEqual(getFd(ctx, "k"), { found: 1, fd: 1, data: null })
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 1)
    strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 0)
  })

  it("changes made outside a job accumulate until a job bound to the ctx is resumed; FINISH does not reset", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "a", 1, null, null)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "b", 2, null, null)
    // a job that never pauses: no reset
    await expectStart(ASYNC_FINISH, jobBox(), ctx, box(0), async () => 1)
    deepStrictEqual(changed(ctx), { adds: [2, 1], dels: [], numadd: 2, numdel: 0 })
    // a job on another ctx: no reset of this one
    const other = track(ASYNC_WAIT_CTX_new())
    const elsewhere = jobBox()
    await expectStart(ASYNC_PAUSE, elsewhere, other, box(0), onlyPause)
    await expectStart(ASYNC_FINISH, elsewhere, other, box(0), onlyPause)
    deepStrictEqual(changed(ctx).numadd, 2)
    // a job bound to it, resumed once: reset
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), onlyPause)
    deepStrictEqual(changed(ctx).numadd, 2)
    await expectStart(ASYNC_FINISH, job, ctx, box(0), onlyPause)
    deepStrictEqual(changed(ctx), { adds: [], dels: [], numadd: 0, numdel: 0 })
  })

  it("a blocked pause does not reset", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const body = async () => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)
      ASYNC_WAIT_CTX_set_wait_fd(c, "k", 3, null, null)
      ASYNC_block_pause()
      await ASYNC_pause_job()
      const numadd = box(0)
      ASYNC_WAIT_CTX_get_changed_fds(c, null, numadd, null, box(0))
      return numadd.value
    }
    const ret = box(-1)
    await expectStart(ASYNC_FINISH, jobBox(), ctx, ret, body)
    strictEqual(ret.value, 1)
  })
})

describe("§2.9 cleanup rules", () => {
  it("cleared entries, entries cleared then purged, and entries without cleanup are never cleaned up", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    const reset = await resetter(ctx)
    const calls: Array<string> = []
    const cleanup = (_c: unknown, key: unknown) => {
      calls.push(key as string)
    }
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "cleared-old-then-purged", 1, null, cleanup)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "cleared-old", 2, null, cleanup)
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "live", 3, null, cleanup)
    await reset()
    ASYNC_WAIT_CTX_clear_fd(ctx, "cleared-old-then-purged")
    await reset()
    ASYNC_WAIT_CTX_clear_fd(ctx, "cleared-old")
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "cleared-new", 4, null, cleanup)
    ASYNC_WAIT_CTX_clear_fd(ctx, "cleared-new")
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "no-cleanup", 5, null, null)
    await ASYNC_WAIT_CTX_free(ctx)
    deepStrictEqual(calls, ["live"])
  })
})

describe("§2.10 callback and status", () => {
  it("set/get/unset; the library never calls the callback nor changes the status", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    let called = 0
    const cb = () => ++called
    const arg = {}
    strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, cb, arg), 1)
    strictEqual(ASYNC_WAIT_CTX_set_status(ctx, ASYNC_STATUS_EAGAIN), 1)
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), onlyPause)
    await expectStart(ASYNC_FINISH, job, ctx, box(0), onlyPause)
    const got = box<((arg: unknown) => number) | null>(null)
    const gotArg = box<unknown>(null)
    strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, got, gotArg), 1)
    strictEqual(got.value, cb)
    strictEqual(gotArg.value, arg)
    strictEqual(called, 0)
    strictEqual(ASYNC_WAIT_CTX_get_status(ctx), ASYNC_STATUS_EAGAIN)
    strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, null, "ignored"), 1)
    const untouched = box<((arg: unknown) => number) | null>(cb)
    strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, untouched, gotArg), 0)
    strictEqual(untouched.value, cb)
  })

  it("any integer status is stored verbatim; other values are refused", () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    for (const status of [42, -7, 0, 2 ** 40]) {
      strictEqual(ASYNC_WAIT_CTX_set_status(ctx, status), 1)
      strictEqual(ASYNC_WAIT_CTX_get_status(ctx), status)
    }
    for (const status of [1.5, Number.NaN, "2", null]) {
      strictEqual(ASYNC_WAIT_CTX_set_status(ctx, status as number), 0)
    }
    strictEqual(ASYNC_WAIT_CTX_get_status(ctx), 2 ** 40)
  })
})

describe("§2.11 NULL and wrong arguments: failure values, never a throw", () => {
  it("a null or foreign ctx", async () => {
    for (const ctx of [null, undefined, {}, 5] as Array<ASYNC_WAIT_CTX | null>) {
      strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1, null, null), 0)
      deepStrictEqual(getFd(ctx, "k"), { found: 0, fd: -1, data: "untouched" })
      strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, box(0)), 0)
      strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, box(0), null, box(0)), 0)
      strictEqual(ASYNC_WAIT_CTX_clear_fd(ctx, "k"), 0)
      strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, () => 1, null), 0)
      strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, box(null), box(null)), 0)
      strictEqual(ASYNC_WAIT_CTX_set_status(ctx, 1), 0)
      strictEqual(ASYNC_WAIT_CTX_get_status(ctx), 0)
      await ASYNC_WAIT_CTX_free(ctx)
    }
  })

  it("null out-parameters, a non-integer fd, a cleanup or callback that is not a function", () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1.5, null, null), 0)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", "1" as never, null, null), 0)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1, null, "cleanup" as never), 0)
    strictEqual(ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 1, null, null), 1)
    strictEqual(ASYNC_WAIT_CTX_get_fd(ctx, "k", null as never, box(null)), 0)
    strictEqual(ASYNC_WAIT_CTX_get_fd(ctx, "k", box(0), null as never), 0)
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, [], null as never), 0)
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, "fds" as never, box(0)), 0)
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, null as never, null, box(0)), 0)
    strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, null, box(0), null, null as never), 0)
    strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, 1 as never, null), 0)
    strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, null as never, box(null)), 0)
    // nothing above changed the ctx
    deepStrictEqual(all(ctx), [1])
  })
})

describe("the core wait ctx underneath", () => {
  it("facade fds are core WaitFds over the real descriptors: core's awaitReady sees a pipe become readable", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const { readFd, writeFd } = makePipe()
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", readFd, writeFd, closeBoth)
    assertTrue(isWaitCtx(ctx))
    const core = (ctx as unknown as { readonly core: CoreWaitCtx.WaitCtx }).core
    deepStrictEqual((await Effect.runPromise(CoreWaitCtx.getAllFds(core))).map((fd) => fd.fd), [readFd])
    let ready = false
    const waiting = Effect.runPromise(CoreWaitCtx.awaitReady(core)).then(() => {
      ready = true
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    strictEqual(ready, false)
    NodeWaitFd.writeByte(writeFd.value)
    await waiting
    strictEqual(ready, true)
  })
})
