/**
 * The conformance scenarios of spec §4 (S1–S14), against the facade.
 */
import { NodeWaitFd } from "@async-job/platform-node"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { AsyncLocalStorage } from "node:async_hooks"
import {
  ASYNC_block_pause,
  ASYNC_cleanup_thread,
  ASYNC_FINISH,
  ASYNC_get_current_job,
  ASYNC_get_wait_ctx,
  ASYNC_init_thread,
  ASYNC_is_capable,
  type ASYNC_JOB,
  ASYNC_NO_JOBS,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_start_job,
  ASYNC_unblock_pause,
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
import { box, closeBoth, expectStart, jobBox, makePipe, onlyPause, stats, useCleanState } from "./utils.js"

const track = useCleanState()

/** `get_all_fds` as a value: count and list. */
const allFds = (ctx: ASYNC_WAIT_CTX) => {
  const numfds = box(-1)
  strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 1)
  const fds: Array<number> = []
  strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, fds, numfds), 1)
  return fds
}

/** `get_changed_fds` as a value: counts and lists. */
const changedFds = (ctx: ASYNC_WAIT_CTX) => {
  const numadd = box(-1)
  const numdel = box(-1)
  const adds: Array<number> = []
  const dels: Array<number> = []
  strictEqual(ASYNC_WAIT_CTX_get_changed_fds(ctx, adds, numadd, dels, numdel), 1)
  strictEqual(adds.length, numadd.value)
  strictEqual(dels.length, numdel.value)
  return { adds, dels }
}

/** Checks `get_all_fds` and `get_changed_fds` at once. */
const expectFds = (
  ctx: ASYNC_WAIT_CTX,
  all: ReadonlyArray<number>,
  adds: ReadonlyArray<number>,
  dels: ReadonlyArray<number>
) => {
  deepStrictEqual(allFds(ctx), all)
  deepStrictEqual(changedFds(ctx), { adds, dels })
}

/**
 * S6 and S10: with `init(1,0)` and one wait ctx, each start gives the result and then the fds of one row
 * (all, added, deleted); the job finally returns 1.
 */
const fdSteps = async (
  body: () => Promise<number>,
  rows: ReadonlyArray<readonly [number, ReadonlyArray<number>, ReadonlyArray<number>, ReadonlyArray<number>]>
) => {
  strictEqual(ASYNC_init_thread(1, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const job = jobBox()
  const ret = box(0)
  for (const [result, all, adds, dels] of rows) {
    await expectStart(result, job, ctx, ret, body)
    expectFds(ctx, all, adds, dels)
  }
  strictEqual(ret.value, 1)
}

// ---------------------------------------------------------------------------------------------------------------------
// test/asynctest.c, one function per test, run by S1 in asynctest's order

const s2PoolLimitAndReuse = async () => {
  strictEqual(ASYNC_init_thread(2, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const [h1, h2, h3] = [jobBox(), jobBox(), jobBox()]
  const [r1, r2, r3] = [box(0), box(0), box(0)]
  await expectStart(ASYNC_PAUSE, h1, ctx, r1, onlyPause)
  assertTrue(h1.value !== null)
  await expectStart(ASYNC_PAUSE, h2, ctx, r2, onlyPause)
  assertTrue(h2.value !== null)
  assertTrue(h2.value !== h1.value)
  await expectStart(ASYNC_NO_JOBS, h3, ctx, r3, onlyPause)
  strictEqual(h3.value, null)
  const first = h1.value
  await expectStart(ASYNC_FINISH, h1, ctx, r1, onlyPause)
  strictEqual(r1.value, 1)
  strictEqual(h1.value, null)
  await expectStart(ASYNC_PAUSE, h3, ctx, r3, onlyPause)
  // Port decision 1: A's pooled record is reused (no record created), under a fresh handle
  assertTrue(h3.value !== first)
  strictEqual(stats()?.created, 2)
  await expectStart(ASYNC_FINISH, h2, ctx, r2, onlyPause)
  strictEqual(r2.value, 1)
  await expectStart(ASYNC_FINISH, h3, ctx, r3, onlyPause)
  strictEqual(r3.value, 1)
}

const s3CallbackStatus = async (log: Array<string>) => {
  strictEqual(ASYNC_init_thread(1, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const arg = { value: 100 }
  const cb = (a: unknown) => {
    strictEqual((a as typeof arg).value, 100)
    log.push("callback test pass")
    return 1
  }
  strictEqual(ASYNC_WAIT_CTX_set_callback(ctx, cb, arg), 1)
  const c = box<((arg: unknown) => number) | null>(null)
  const a = box<unknown>(null)
  strictEqual(ASYNC_WAIT_CTX_get_callback(ctx, c, a), 1)
  strictEqual(c.value, cb)
  strictEqual(a.value, arg)
  strictEqual(c.value!(a.value), 1)
  strictEqual(ASYNC_WAIT_CTX_set_status(ctx, 1), 1)
  strictEqual(ASYNC_WAIT_CTX_get_status(ctx), 1)
}

const s4StartJob = async () => {
  let ctr = 0
  const addTwo = async () => {
    ctr++
    await ASYNC_pause_job()
    ctr++
    return 2
  }
  strictEqual(ASYNC_init_thread(1, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const job = jobBox()
  const ret = box(0)
  await expectStart(ASYNC_PAUSE, job, ctx, ret, addTwo)
  strictEqual(ctr, 1)
  await expectStart(ASYNC_FINISH, job, ctx, ret, addTwo)
  strictEqual(ctr, 2)
  strictEqual(ret.value, 2)
}

const s5CurrentJob = async () => {
  let saved: ASYNC_JOB | null = null
  const saveCurrent = async () => {
    saved = ASYNC_get_current_job()
    await ASYNC_pause_job()
    return 1
  }
  strictEqual(ASYNC_init_thread(1, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const job = jobBox()
  const ret = box(0)
  await expectStart(ASYNC_PAUSE, job, ctx, ret, saveCurrent)
  assertTrue(saved !== null)
  strictEqual(saved, job.value)
  await expectStart(ASYNC_FINISH, job, ctx, ret, saveCurrent)
  strictEqual(ret.value, 1)
}

const s6AllFds = async () => {
  const waitfd = async () => {
    const job = ASYNC_get_current_job()
    if (job === null) return 0
    const c = ASYNC_get_wait_ctx(job)
    if (c === null) return 0
    await ASYNC_pause_job()
    if (ASYNC_WAIT_CTX_set_wait_fd(c, c, 99, null, null) !== 1) return 0
    await ASYNC_pause_job()
    if (ASYNC_WAIT_CTX_clear_fd(c, c) !== 1) return 0
    await ASYNC_pause_job()
    if (ASYNC_WAIT_CTX_set_wait_fd(c, c, 99, null, null) !== 1) return 0
    if (ASYNC_WAIT_CTX_clear_fd(c, c) !== 1) return 0
    return 1
  }
  await fdSteps(waitfd, [
    [ASYNC_PAUSE, [], [], []],
    [ASYNC_PAUSE, [99], [99], []],
    [ASYNC_PAUSE, [], [], [99]],
    [ASYNC_FINISH, [], [], []]
  ])
}

const s7BlockPause = async () => {
  const blockpause = async () => {
    ASYNC_block_pause()
    await ASYNC_pause_job()
    ASYNC_unblock_pause()
    await ASYNC_pause_job()
    return 1
  }
  strictEqual(ASYNC_init_thread(1, 0), 1)
  const ctx = track(ASYNC_WAIT_CTX_new())
  const job = jobBox()
  const ret = box(0)
  let starts = 0
  let result: number
  do {
    result = await ASYNC_start_job(job, ctx, ret, blockpause, null)
    starts++
  } while (result === ASYNC_PAUSE)
  strictEqual(result, ASYNC_FINISH)
  strictEqual(ret.value, 1)
  strictEqual(starts, 2)
}

/**
 * OpenSSL's default library context is a thread-local that each job keeps as its own. Its JavaScript
 * counterpart is an AsyncLocalStorage value: `setDefault` replaces it and returns the previous one, like
 * `OSSL_LIB_CTX_set0_default`.
 */
const s8DefaultLibctx = async () => {
  const libctx = new AsyncLocalStorage<{ readonly name: string }>()
  const setDefault = (next: { readonly name: string }) => {
    const previous = libctx.getStore()!
    libctx.enterWith(next)
    return previous
  }
  const G = { name: "G" }
  await libctx.run(G, async () => {
    const L = { name: "L" }
    strictEqual(setDefault(L), G)
    const ctx = track(ASYNC_WAIT_CTX_new())
    const changeDefltLibctx = async () => {
      const J = { name: "J" }
      const P = setDefault(J)
      if (P !== L) return 0
      await ASYNC_pause_job()
      if (setDefault(P) !== J) return 0
      setDefault(J)
      await ASYNC_pause_job()
      if (setDefault(P) !== J) return 0
      return 1
    }
    const job = jobBox()
    const ret = box(0)
    await expectStart(ASYNC_PAUSE, job, ctx, ret, changeDefltLibctx)
    strictEqual(libctx.getStore(), L)
    await expectStart(ASYNC_PAUSE, job, ctx, ret, changeDefltLibctx)
    strictEqual(setDefault(G), L)
    await expectStart(ASYNC_FINISH, job, ctx, ret, changeDefltLibctx)
    strictEqual(ret.value, 1)
    strictEqual(setDefault(L), G)
    setDefault(G)
  })
}

describe("asynctest.c", () => {
  it("S1: capable, and S2–S8 pass in asynctest's order", async () => {
    strictEqual(ASYNC_is_capable(), 1)
    const log: Array<string> = []
    const scenarios: Array<(log: Array<string>) => Promise<void>> = [
      s2PoolLimitAndReuse,
      s3CallbackStatus,
      s4StartJob,
      s5CurrentJob,
      s6AllFds,
      s7BlockPause,
      s8DefaultLibctx
    ]
    for (const scenario of scenarios) {
      await scenario(log)
      await ASYNC_cleanup_thread()
    }
    log.push("PASS")
    deepStrictEqual(log, ["callback test pass", "PASS"])
  })

  it("S2: pool limit, NO_JOBS and reuse", s2PoolLimitAndReuse)

  it("S3: callback and status accessors", async () => {
    const log: Array<string> = []
    await s3CallbackStatus(log)
    // once: by the test's own call in step 3
    deepStrictEqual(log, ["callback test pass"])
  })

  it("S4: pause/resume and side-effect ordering", s4StartJob)

  it("S5: the handle returned by PAUSE is the job the body saw", s5CurrentJob)

  it("S6: wait-fd change bookkeeping", s6AllFds)

  it("S7: block/unblock: the blocked pause is a no-op", s7BlockPause)

  it("S8: the ambient context is isolated per job", s8DefaultLibctx)

  // S9 (ASYNC_set_mem_functions / ASYNC_get_mem_functions, custom job stack allocators) is not applicable:
  // JavaScript jobs have no stacks to allocate, and the facade exports neither function (issue 3 §1).

  it("S10: no reset at FINISH (1.1.0 variant of S6)", async () => {
    const body = async () => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)!
      await ASYNC_pause_job()
      ASYNC_WAIT_CTX_set_wait_fd(c, c, 99, null, null)
      await ASYNC_pause_job()
      ASYNC_WAIT_CTX_clear_fd(c, c)
      return 1
    }
    await fdSteps(body, [
      [ASYNC_PAUSE, [], [], []],
      [ASYNC_PAUSE, [99], [99], []],
      [ASYNC_FINISH, [], [], [99]]
    ])
  })
})

describe("engines and drivers", () => {
  it("S11: the man page's example (its per-step expectations; the program itself is apps/example)", async () => {
    const out: Array<string> = []
    const unique = {}
    let cleanups = 0
    const cleanup = (...args: Parameters<typeof closeBoth>) => {
      cleanups++
      closeBoth(...args)
    }
    const jobfunc = async (arg: Uint8Array) => {
      const currjob = ASYNC_get_current_job()
      if (currjob === null) return 0
      out.push("Executing within a job")
      out.push(`Passed in message is: ${new TextDecoder().decode(arg.subarray(0, arg.indexOf(0)))}`)
      const { readFd, writeFd } = makePipe()
      ASYNC_WAIT_CTX_set_wait_fd(ASYNC_get_wait_ctx(currjob), unique, readFd, writeFd, cleanup)
      NodeWaitFd.writeByte(writeFd.value)
      await ASYNC_pause_job()
      if (!NodeWaitFd.readByte(readFd)) return 0
      out.push("Resumed the job after a pause")
      return 1
    }
    out.push("Starting...")
    const ctx = ASYNC_WAIT_CTX_new()
    const msg = new TextEncoder().encode("Hello world!\0")
    const job = jobBox()
    const ret = box(0)
    for (;;) {
      const result = await ASYNC_start_job(job, ctx, ret, jobfunc, msg, msg.byteLength)
      if (result === ASYNC_PAUSE) {
        out.push("Job was paused")
      } else {
        strictEqual(result, ASYNC_FINISH)
        out.push(`Job finished with return value ${ret.value}`)
        break
      }
      out.push("Waiting for the job to be woken up")
      const numfds = box(0)
      strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 1)
      strictEqual(numfds.value, 1)
      const waitfd: Array<number> = []
      ASYNC_WAIT_CTX_get_all_fds(ctx, waitfd, numfds)
      await NodeWaitFd.waitReadable(waitfd[0]!)
    }
    strictEqual(job.value, null)
    deepStrictEqual(stats(), { maxSize: 0, created: 1, idle: 1, running: 0, paused: 0 })
    strictEqual(cleanups, 0)
    await ASYNC_WAIT_CTX_free(ctx)
    strictEqual(cleanups, 1)
    out.push("Finishing")
    deepStrictEqual(out, [
      "Starting...",
      "Executing within a job",
      "Passed in message is: Hello world!",
      "Job was paused",
      "Waiting for the job to be woken up",
      "Resumed the job after a pause",
      "Job finished with return value 1",
      "Finishing"
    ])
  })

  it("S12: dasync-style engine: one stable fd per wait ctx", async () => {
    const K = {}
    const cleanups: Array<ReadonlyArray<unknown>> = []
    const engineOperation = async (c: ASYNC_WAIT_CTX) => {
      const fd = box(-1)
      const custom = box<unknown>(null)
      if (ASYNC_WAIT_CTX_get_fd(c, K, fd, custom) === 0) {
        const pipe = makePipe()
        ASYNC_WAIT_CTX_set_wait_fd(c, K, pipe.readFd, pipe.writeFd, (...args) => {
          cleanups.push(args)
          closeBoth(...args)
        })
        fd.value = pipe.readFd
        custom.value = pipe.writeFd
      }
      NodeWaitFd.writeByte((custom.value as { value: number }).value)
      await ASYNC_pause_job()
      NodeWaitFd.readByte(fd.value)
    }
    const body = async () => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)!
      await engineOperation(c)
      await engineOperation(c)
      return 7
    }
    const ctx = ASYNC_WAIT_CTX_new()
    const job = jobBox()
    const ret = box(0)
    await expectStart(ASYNC_PAUSE, job, ctx, ret, body)
    const [readEnd] = allFds(ctx)
    expectFds(ctx, [readEnd!], [readEnd!], [])
    assertTrue(NodeWaitFd.isReadable(readEnd!))
    await expectStart(ASYNC_PAUSE, job, ctx, ret, body)
    expectFds(ctx, [readEnd!], [], [])
    await expectStart(ASYNC_FINISH, job, ctx, ret, body)
    strictEqual(ret.value, 7)
    deepStrictEqual(allFds(ctx), [readEnd!])
    const writeEnd = box(0)
    const custom = box<unknown>(null)
    strictEqual(ASYNC_WAIT_CTX_get_fd(ctx, K, writeEnd, custom), 1)
    await ASYNC_WAIT_CTX_free(ctx)
    deepStrictEqual(cleanups, [[ctx, K, readEnd, custom.value]])
  })

  it("S13: engine submission failure: add-then-clear inside one segment", async () => {
    const K = {}
    let recorded = 0
    const cbRecorder = () => {
      recorded++
    }
    const body = async () => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)!
      const [fdX, writeEnd] = NodeWaitFd.pipe()
      ASYNC_WAIT_CTX_set_wait_fd(c, K, fdX, null, cbRecorder)
      // the submission fails; the fd was added in this segment, so the engine closes it itself
      const numadd = box(0)
      ASYNC_WAIT_CTX_get_changed_fds(c, null, numadd, null, box(0))
      if (numadd.value > 0) {
        NodeWaitFd.close(fdX)
        NodeWaitFd.close(writeEnd)
        if (ASYNC_WAIT_CTX_clear_fd(c, K) !== 1) return -1
      }
      return 0
    }
    const ctx = ASYNC_WAIT_CTX_new()
    const job = jobBox()
    const ret = box(-1)
    await expectStart(ASYNC_FINISH, job, ctx, ret, body)
    strictEqual(ret.value, 0)
    expectFds(ctx, [], [], [])
    strictEqual(ASYNC_WAIT_CTX_get_fd(ctx, K, box(0), box(null)), 0)
    await ASYNC_WAIT_CTX_free(ctx)
    strictEqual(recorded, 0)
  })

  it("S14: speed-style event loop over four jobs", async () => {
    strictEqual(ASYNC_init_thread(4, 4), 1)
    deepStrictEqual(stats(), { maxSize: 4, created: 4, idle: 4, running: 0, paused: 0 })
    const K = {}
    // job i registers (once) and reuses one fd in its own ctx, makes it readable "later", and pauses, 3
    // times; the last job publishes no fd, so the loop resumes it every pass (polling mode)
    const body = async (i: number) => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)!
      for (let n = 0; n < 3; n++) {
        if (i < 3) {
          const fd = box(-1)
          const custom = box<unknown>(null)
          if (ASYNC_WAIT_CTX_get_fd(c, K, fd, custom) === 0) {
            const pipe = makePipe()
            ASYNC_WAIT_CTX_set_wait_fd(c, K, pipe.readFd, pipe.writeFd, closeBoth)
            custom.value = pipe.writeFd
          }
          const writeFd = (custom.value as { value: number }).value
          // the "hardware" completes later; a failed test may have closed the pipe by then
          setTimeout(() => {
            try {
              NodeWaitFd.writeByte(writeFd)
            } catch {
              // closed
            }
          }, 1 + i)
        }
        await ASYNC_pause_job()
        if (i < 3) {
          const fd = box(-1)
          ASYNC_WAIT_CTX_get_fd(c, K, fd, box(null))
          NodeWaitFd.drain(fd.value)
        }
      }
      return i + 1
    }
    const ctxs = [0, 1, 2, 3].map(() => track(ASYNC_WAIT_CTX_new()))
    const jobs = ctxs.map(() => jobBox())
    const ret = box(0)
    let sum = 0
    let finished = 0
    const starts = [0, 0, 0, 0]
    const start = async (i: number) => {
      starts[i]!++
      const result = await ASYNC_start_job(jobs[i]!, ctxs[i]!, ret, body, i)
      if (result === ASYNC_FINISH) {
        finished++
        sum += ret.value
      } else {
        strictEqual(result, ASYNC_PAUSE)
      }
    }
    for (let i = 0; i < 4; i++) await start(i)
    deepStrictEqual(stats(), { maxSize: 4, created: 4, idle: 0, running: 0, paused: 4 })
    while (finished < 4) {
      const outstanding = [0, 1, 2, 3].filter((i) => jobs[i]!.value !== null)
      // a fifth concurrent start is refused, and changes nothing
      if (outstanding.length === 4) await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
      const fds = outstanding.map((i) => {
        const all = allFds(ctxs[i]!)
        assertTrue(all.length <= 1, "at most one fd per job")
        return all[0]
      })
      const polling = fds.some((fd) => fd === undefined)
      if (!polling) {
        // select(): the first fd to become readable ends the wait; the others stop being watched
        const abort = new AbortController()
        try {
          await Promise.race(fds.map((fd) => NodeWaitFd.waitReadable(fd!, { signal: abort.signal })))
        } finally {
          abort.abort()
        }
      }
      for (let k = 0; k < outstanding.length; k++) {
        const fd = fds[k]
        if (fd === undefined || NodeWaitFd.isReadable(fd)) await start(outstanding[k]!)
      }
    }
    strictEqual(finished, 4)
    strictEqual(sum, 10)
    deepStrictEqual(starts, [4, 4, 4, 4])
    deepStrictEqual(stats(), { maxSize: 4, created: 4, idle: 4, running: 0, paused: 0 })
  })
})
