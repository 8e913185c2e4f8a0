/**
 * The Port decisions of the spec ("P" section), one `describe` each, against the facade.
 */
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { AsyncLocalStorage } from "node:async_hooks"
import { Buffer } from "node:buffer"
import {
  ASYNC_block_pause,
  ASYNC_cleanup_thread,
  ASYNC_ERR,
  ASYNC_FINISH,
  ASYNC_get_current_job,
  ASYNC_get_wait_ctx,
  ASYNC_init_thread,
  type ASYNC_JOB,
  ASYNC_NO_JOBS,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_start_job,
  ASYNC_unblock_pause,
  ASYNC_WAIT_CTX_clear_fd,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_get_all_fds,
  ASYNC_WAIT_CTX_new,
  ASYNC_WAIT_CTX_set_wait_fd
} from "../src/index.js"
import { box, expectStart, jobBox, liveJobs, onlyPause, stats, useCleanState } from "./utils.js"

const track = useCleanState()

/** A job that records its life in `log` and pauses once, cleaning up in `finally`. */
const recorder = (log: Array<string>, name: string) => async () => {
  log.push(`${name} started`)
  try {
    await ASYNC_pause_job()
    log.push(`${name} resumed`)
    return 1
  } catch (error) {
    log.push(`${name} rejected: ${(error as Error).name} ${(error as { code?: string }).code}`)
    throw error
  } finally {
    log.push(`${name} finally`)
  }
}

describe("1: handles are fresh per run; stale handles are refused", () => {
  it("a reused pool record gets a new handle, equal inside and outside the job", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const seen: Array<ASYNC_JOB | null> = []
    const body = async () => {
      seen.push(ASYNC_get_current_job())
      await ASYNC_pause_job()
      seen.push(ASYNC_get_current_job())
      return 1
    }
    const handles: Array<ASYNC_JOB | null> = []
    for (let run = 0; run < 2; run++) {
      const job = jobBox()
      await expectStart(ASYNC_PAUSE, job, null, box(0), body)
      handles.push(job.value)
      await expectStart(ASYNC_FINISH, job, null, box(0), body)
    }
    assertTrue(handles[0] !== handles[1])
    deepStrictEqual(seen, [handles[0], handles[0], handles[1], handles[1]])
    strictEqual(stats()?.created, 1)
  })

  it("resuming a finished handle: ASYNC_ERR, nothing runs, no count changes, the box is untouched", async () => {
    strictEqual(ASYNC_init_thread(2, 0), 1)
    const ctx = track(ASYNC_WAIT_CTX_new())
    let runs = 0
    const body = async () => {
      runs++
      await ASYNC_pause_job()
      return 1
    }
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), body)
    const stale = job.value!
    await expectStart(ASYNC_FINISH, job, ctx, box(0), body)
    strictEqual(ASYNC_get_wait_ctx(stale), null)
    const before = stats()
    const again = { value: stale }
    const ret = box(-1)
    await expectStart(ASYNC_ERR, again, ctx, ret, body)
    strictEqual(again.value, stale)
    strictEqual(ret.value, -1)
    strictEqual(runs, 1)
    deepStrictEqual(stats(), before)
  })

  it("a cancelled handle, and a handle from before ASYNC_cleanup_thread, are stale", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), onlyPause)
    const cancelled = job.value!
    await ASYNC_WAIT_CTX_free(ctx)
    strictEqual(ASYNC_get_wait_ctx(cancelled), null)
    await expectStart(ASYNC_ERR, job, null, box(0), onlyPause)
    strictEqual(job.value, cancelled)
    const other = jobBox()
    await expectStart(ASYNC_PAUSE, other, null, box(0), onlyPause)
    const beforeCleanup = other.value
    await ASYNC_cleanup_thread()
    await expectStart(ASYNC_ERR, other, null, box(0), onlyPause)
    strictEqual(other.value, beforeCleanup)
    strictEqual(stats(), undefined, "a refused resume does not create a pool")
  })

  it("a value that is not a handle is refused", async () => {
    await expectStart(ASYNC_ERR, { value: {} as ASYNC_JOB }, null, box(0), onlyPause)
    strictEqual(stats(), undefined)
  })
})

describe("2: nested starts", () => {
  it("a job starts and resumes another from the same pool; the current job is always the running one", async () => {
    strictEqual(ASYNC_init_thread(2, 0), 1)
    const log: Array<string> = []
    const name = (job: ASYNC_JOB | null) => job === null ? "none" : job === outerHandle ? "outer" : "inner"
    let outerHandle: ASYNC_JOB | null = null
    const inner = async () => {
      log.push(`inner runs as ${name(ASYNC_get_current_job())}`)
      await ASYNC_pause_job()
      log.push(`inner resumed as ${name(ASYNC_get_current_job())}`)
      return 5
    }
    const outer = async () => {
      outerHandle = ASYNC_get_current_job()
      const job = jobBox()
      const ret = box(0)
      strictEqual(await ASYNC_start_job(job, null, ret, inner, null), ASYNC_PAUSE)
      log.push(`inner paused; current is ${name(ASYNC_get_current_job())}`)
      // the pool is full: outer and inner are outstanding
      strictEqual(await ASYNC_start_job(jobBox(), null, box(0), onlyPause, null), ASYNC_NO_JOBS)
      await ASYNC_pause_job()
      strictEqual(await ASYNC_start_job(job, null, ret, inner, null), ASYNC_FINISH)
      log.push(`inner finished with ${ret.value}; current is ${name(ASYNC_get_current_job())}`)
      return ret.value + 1
    }
    const job = jobBox()
    const ret = box(0)
    await expectStart(ASYNC_PAUSE, job, null, ret, outer)
    strictEqual(job.value, outerHandle)
    strictEqual(ASYNC_get_current_job(), null)
    deepStrictEqual(stats(), { maxSize: 2, created: 2, idle: 0, running: 0, paused: 2 })
    await expectStart(ASYNC_FINISH, job, null, ret, outer)
    strictEqual(ret.value, 6)
    deepStrictEqual(log, [
      "inner runs as inner",
      "inner paused; current is outer",
      "inner resumed as inner",
      "inner finished with 5; current is outer"
    ])
    deepStrictEqual(stats(), { maxSize: 2, created: 2, idle: 2, running: 0, paused: 0 })
  })
})

describe("3: concurrent starts", () => {
  it("starts in flight at once each run in their own async context", async () => {
    const seen = new Map<number, ASYNC_JOB | null>()
    const body = async (n: number) => {
      await new Promise((resolve) => setTimeout(resolve, 3 - n))
      seen.set(n, ASYNC_get_current_job())
      await ASYNC_pause_job()
      return n * 10
    }
    const jobs = [jobBox(), jobBox(), jobBox()]
    const results = await Promise.all(jobs.map((job, n) => ASYNC_start_job(job, null, box(0), body, n)))
    deepStrictEqual(results, [ASYNC_PAUSE, ASYNC_PAUSE, ASYNC_PAUSE])
    deepStrictEqual([0, 1, 2].map((n) => seen.get(n)), jobs.map((job) => job.value))
    const rets = [box(0), box(0), box(0)]
    deepStrictEqual(
      await Promise.all(jobs.map((job, n) => ASYNC_start_job(job, null, rets[n]!, body, null))),
      [ASYNC_FINISH, ASYNC_FINISH, ASYNC_FINISH]
    )
    deepStrictEqual(rets.map((ret) => ret.value), [0, 10, 20])
  })

  it("a second resume of a job being resumed is refused and leaves the job undisturbed", async () => {
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), onlyPause)
    const copy = { value: job.value }
    const ret = box(0)
    const copyRet = box(-1)
    deepStrictEqual(
      await Promise.all([
        ASYNC_start_job(job, null, ret, onlyPause, null),
        ASYNC_start_job(copy, null, copyRet, onlyPause, null)
      ]),
      [ASYNC_FINISH, ASYNC_ERR]
    )
    strictEqual(ret.value, 1)
    strictEqual(copyRet.value, -1)
  })

  it("a job resuming itself while running is refused", async () => {
    const body = async () => {
      const self = { value: ASYNC_get_current_job() }
      const refused = await ASYNC_start_job(self, null, box(0), onlyPause, null)
      await ASYNC_pause_job()
      return refused
    }
    const job = jobBox()
    const ret = box(-1)
    await expectStart(ASYNC_PAUSE, job, null, ret, body)
    await expectStart(ASYNC_FINISH, job, null, ret, body)
    strictEqual(ret.value, ASYNC_ERR)
  })
})

describe("4: ASYNC_init_thread twice, and validation", () => {
  it("replaces the limits; outstanding jobs count against the new max_size", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const a = jobBox()
    await expectStart(ASYNC_PAUSE, a, null, box(0), onlyPause)
    await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
    strictEqual(ASYNC_init_thread(2, 2), 1)
    deepStrictEqual(stats(), { maxSize: 2, created: 2, idle: 1, running: 0, paused: 1 })
    const b = jobBox()
    await expectStart(ASYNC_PAUSE, b, null, box(0), onlyPause)
    await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
    strictEqual(ASYNC_init_thread(1, 0), 1)
    await expectStart(ASYNC_FINISH, a, null, box(0), onlyPause)
    await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
    await expectStart(ASYNC_FINISH, b, null, box(0), onlyPause)
    deepStrictEqual(stats(), { maxSize: 1, created: 2, idle: 2, running: 0, paused: 0 })
  })

  it("refuses invalid sizes with 0 and changes nothing", () => {
    const invalid: Array<[unknown, unknown]> = [
      [0, 1],
      [1, 2],
      [-1, 0],
      [0, -1],
      [1.5, 0],
      [Number.NaN, 0],
      [2 ** 31, 0],
      [Infinity, 0],
      ["1", 0],
      [null, 0],
      [undefined, undefined]
    ]
    for (const [max, init] of invalid) {
      strictEqual(ASYNC_init_thread(max as number, init as number), 0, `(${String(max)}, ${String(init)})`)
    }
    strictEqual(stats(), undefined)
    strictEqual(ASYNC_init_thread(2 ** 31 - 1, 0), 1)
    strictEqual(ASYNC_init_thread(0, 1), 0)
    strictEqual(stats()?.maxSize, 2 ** 31 - 1)
    strictEqual(ASYNC_init_thread(0, 0), 1)
    strictEqual(stats()?.maxSize, 0)
  })
})

describe("5: ASYNC_cleanup_thread cancels paused and running jobs", () => {
  it("pending pauses reject, finally blocks run before the promise resolves, handles go stale", async () => {
    strictEqual(ASYNC_init_thread(3, 0), 1)
    const log: Array<string> = []
    const a = jobBox()
    const b = jobBox()
    await expectStart(ASYNC_PAUSE, a, null, box(0), recorder(log, "a"))
    await expectStart(ASYNC_PAUSE, b, null, box(0), recorder(log, "b"))
    await ASYNC_cleanup_thread()
    log.push("cleanup resolved")
    deepStrictEqual(log, [
      "a started",
      "b started",
      "a rejected: JobCancelledError ERR_ASYNC_JOB_CANCELLED",
      "a finally",
      "b rejected: JobCancelledError ERR_ASYNC_JOB_CANCELLED",
      "b finally",
      "cleanup resolved"
    ])
    strictEqual(stats(), undefined)
    await expectStart(ASYNC_ERR, a, null, box(0), onlyPause)
    // the next start auto-initialises an unbounded pool
    await expectStart(ASYNC_PAUSE, jobBox(), null, box(0), onlyPause)
    deepStrictEqual(stats(), { maxSize: 0, created: 1, idle: 0, running: 0, paused: 1 })
  })

  it("a running job is cancelled too: its start answers ASYNC_ERR with a JobCancelledError in job.error", async () => {
    const log: Array<string> = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const body = async () => {
      try {
        await gate
        log.push("gate passed")
        await ASYNC_pause_job()
        log.push("never")
        return 1
      } finally {
        log.push("finally")
      }
    }
    const job = jobBox()
    const ret = box(-1)
    const started = ASYNC_start_job(job, null, ret, body, null)
    await new Promise((resolve) => setImmediate(resolve))
    const cleaned = ASYNC_cleanup_thread().then(() => log.push("cleanup resolved"))
    release()
    strictEqual(await started, ASYNC_ERR)
    await cleaned
    deepStrictEqual(log, ["gate passed", "finally", "cleanup resolved"])
    strictEqual(job.value, null)
    strictEqual(ret.value, -1)
    assertInstanceOf(job.error, Error)
    strictEqual((job.error as Error).name, "JobCancelledError")
  })

  it("called from inside a job it does nothing", async () => {
    const body = async () => {
      await ASYNC_cleanup_thread()
      return stats() === undefined ? 0 : 1
    }
    const ret = box(-1)
    await expectStart(ASYNC_FINISH, jobBox(), null, ret, body)
    strictEqual(ret.value, 1)
  })

  it("a job that catches the cancellation cannot pause again", async () => {
    const log: Array<string> = []
    const body = async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await ASYNC_pause_job()
        } catch (error) {
          log.push((error as Error).name)
        }
      }
      return 1
    }
    await expectStart(ASYNC_PAUSE, jobBox(), null, box(0), body)
    await ASYNC_cleanup_thread()
    deepStrictEqual(log, ["JobCancelledError", "JobCancelledError", "JobCancelledError"])
  })
})

describe("6: the pause-block counter belongs to the job", () => {
  it("a job that forgets to unblock does not disable pausing for the next job", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const forgetful = async () => {
      ASYNC_block_pause()
      await ASYNC_pause_job()
      return 1
    }
    await expectStart(ASYNC_FINISH, jobBox(), null, box(0), forgetful)
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), onlyPause)
    await expectStart(ASYNC_FINISH, job, null, box(0), onlyPause)
  })

  it("block/unblock outside a job do nothing; unblock never goes below 0; blocks nest", async () => {
    ASYNC_block_pause()
    ASYNC_block_pause()
    const body = async () => {
      ASYNC_unblock_pause()
      ASYNC_unblock_pause()
      ASYNC_block_pause()
      ASYNC_block_pause()
      strictEqual(await ASYNC_pause_job(), 1) // blocked: no PAUSE
      ASYNC_unblock_pause()
      strictEqual(await ASYNC_pause_job(), 1) // still blocked once
      ASYNC_unblock_pause()
      await ASYNC_pause_job() // pauses
      return 1
    }
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), body)
    await expectStart(ASYNC_FINISH, job, null, box(0), body)
  })

  it("concurrent jobs have separate counters", async () => {
    let unblockA!: () => void
    const aBlocked = new Promise<void>((resolve) => {
      unblockA = resolve
    })
    const a = async () => {
      ASYNC_block_pause()
      await aBlocked
      ASYNC_unblock_pause()
      return 1
    }
    const first = ASYNC_start_job(jobBox(), null, box(0), a, null)
    const b = jobBox()
    await expectStart(ASYNC_PAUSE, b, null, box(0), onlyPause)
    unblockA()
    strictEqual(await first, ASYNC_FINISH)
    await expectStart(ASYNC_FINISH, b, null, box(0), onlyPause)
  })
})

describe("7: a null wait ctx is allowed", () => {
  it("the job runs, pauses and resumes; it has no wait ctx", async () => {
    const body = async () => {
      if (ASYNC_get_wait_ctx(ASYNC_get_current_job()!) !== null) return -1
      await ASYNC_pause_job()
      await ASYNC_pause_job()
      return 3
    }
    const job = jobBox()
    const ret = box(0)
    await expectStart(ASYNC_PAUSE, job, null, ret, body)
    strictEqual(ASYNC_get_wait_ctx(job.value!), null)
    await expectStart(ASYNC_PAUSE, job, null, ret, body)
    await expectStart(ASYNC_FINISH, job, null, ret, body)
    strictEqual(ret.value, 3)
  })
})

describe("8: freeing a wait ctx with a paused job bound to it", () => {
  it("cancels the job first (finally runs), then runs the cleanups, then resolves", async () => {
    const log: Array<string> = []
    const ctx = ASYNC_WAIT_CTX_new()
    const other = track(ASYNC_WAIT_CTX_new())
    ASYNC_WAIT_CTX_set_wait_fd(ctx, "k", 7, null, () => log.push("cleanup"))
    const job = jobBox()
    const bystander = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), recorder(log, "bound"))
    await expectStart(ASYNC_PAUSE, bystander, other, box(0), onlyPause)
    await ASYNC_WAIT_CTX_free(ctx)
    log.push("free resolved")
    deepStrictEqual(log, [
      "bound started",
      "bound rejected: JobCancelledError ERR_ASYNC_JOB_CANCELLED",
      "bound finally",
      "cleanup",
      "free resolved"
    ])
    await expectStart(ASYNC_ERR, job, null, box(0), onlyPause)
    // a job bound to another ctx is untouched
    await expectStart(ASYNC_FINISH, bystander, null, box(0), onlyPause)
    deepStrictEqual(stats(), { maxSize: 0, created: 2, idle: 2, running: 0, paused: 0 })
  })

  it("a job may still clear its fd from its finally block while being cancelled", async () => {
    const log: Array<string> = []
    const ctx = ASYNC_WAIT_CTX_new()
    const body = async (key: string) => {
      const c = ASYNC_get_wait_ctx(ASYNC_get_current_job()!)
      ASYNC_WAIT_CTX_set_wait_fd(c, key, 5, null, () => log.push("cleanup"))
      try {
        await ASYNC_pause_job()
        return 1
      } finally {
        // an engine closes its descriptor itself and clears it: its cleanup routine is then never called
        log.push(`clear_fd: ${ASYNC_WAIT_CTX_clear_fd(c, key)}`)
      }
    }
    await expectStart(ASYNC_PAUSE, jobBox(), ctx, box(0), body, "k")
    await ASYNC_WAIT_CTX_free(ctx)
    deepStrictEqual(log, ["clear_fd: 1"])
  })

  it("starting a job with a wait ctx being freed, or freed, is refused", async () => {
    const ctx = ASYNC_WAIT_CTX_new()
    await expectStart(ASYNC_PAUSE, jobBox(), ctx, box(0), onlyPause)
    const freeing = ASYNC_WAIT_CTX_free(ctx)
    await expectStart(ASYNC_ERR, jobBox(), ctx, box(0), onlyPause)
    await freeing
    await expectStart(ASYNC_ERR, jobBox(), ctx, box(0), onlyPause)
    // freeing twice is harmless
    await ASYNC_WAIT_CTX_free(ctx)
  })

  it("freeing the ctx of the calling job from inside it does nothing", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const body = async () => {
      await ASYNC_WAIT_CTX_free(ASYNC_get_wait_ctx(ASYNC_get_current_job()!))
      return ASYNC_WAIT_CTX_set_wait_fd(ASYNC_get_wait_ctx(ASYNC_get_current_job()!), "k", 1, null, null)
    }
    const ret = box(-1)
    await expectStart(ASYNC_FINISH, jobBox(), ctx, ret, body)
    strictEqual(ret.value, 1)
    const numfds = box(0)
    strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 1)
    strictEqual(numfds.value, 1)
  })
})

describe("9: arguments are copied", () => {
  const echo = async (arg: unknown) => {
    received.push(arg)
    await ASYNC_pause_job()
    received.push(arg)
    return 1
  }
  const received: Array<unknown> = []
  const startAndFinish = async (args: unknown, size?: number) => {
    received.length = 0
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), echo, args, size)
    return async () => {
      await expectStart(ASYNC_FINISH, job, null, box(0), echo)
      return received
    }
  }

  it("structuredClone: the caller may change its value right after the call", async () => {
    const args = { msg: "hello", list: [1, 2], when: new Date(0) }
    const finish = await startAndFinish(args)
    args.msg = "changed"
    args.list.push(3)
    const [first, second] = await finish()
    deepStrictEqual(first, { msg: "hello", list: [1, 2], when: new Date(0) })
    strictEqual(first, second)
    assertTrue(first !== args)
  })

  it("a typed array with size: its first size bytes", async () => {
    const bytes = new TextEncoder().encode("Hello world!\0")
    const finish = await startAndFinish(bytes, 5)
    bytes.fill(0)
    const [copy] = await finish()
    deepStrictEqual(copy, new TextEncoder().encode("Hello"))
  })

  it("views keep their kind when size fits, Buffers stay Buffers, ArrayBuffers are sliced", async () => {
    const ints = new Int32Array([1, 2, 3])
    deepStrictEqual((await (await startAndFinish(ints, 8))())[0], new Int32Array([1, 2]))
    deepStrictEqual((await (await startAndFinish(ints, 6))())[0], new Uint8Array(ints.buffer, 0, 6).slice())
    const buffer = Buffer.from("abcdef")
    const [fromBuffer] = await (await startAndFinish(buffer, 3))()
    assertTrue(Buffer.isBuffer(fromBuffer))
    strictEqual((fromBuffer as Buffer).toString(), "abc")
    const [wholeBuffer] = await (await startAndFinish(buffer))()
    assertTrue(Buffer.isBuffer(wholeBuffer) && wholeBuffer !== buffer)
    const raw = new Uint8Array([9, 8, 7]).buffer
    const [sliced] = await (await startAndFinish(raw, 2))()
    deepStrictEqual(new Uint8Array(sliced as ArrayBuffer), new Uint8Array([9, 8]))
  })

  it("size 0 gives an empty copy; null and undefined give null", async () => {
    deepStrictEqual((await (await startAndFinish(new Uint8Array([1]), 0))())[0], new Uint8Array(0))
    strictEqual((await (await startAndFinish(null))())[0], null)
    strictEqual((await (await startAndFinish(undefined, 4))())[0], null)
  })

  it("arguments that cannot be copied: ASYNC_ERR, nothing runs, nothing changes", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const before = stats()
    const refused: Array<[unknown, number | undefined]> = [
      [{ f: () => 1 }, undefined],
      [Symbol("s"), undefined],
      [new Uint8Array(2), 3],
      [new Uint8Array(2), -1],
      [new Uint8Array(2), 1.5]
    ]
    received.length = 0
    for (const [args, size] of refused) {
      const job = jobBox()
      await expectStart(ASYNC_ERR, job, null, box(0), echo, args, size)
      strictEqual(job.value, null)
    }
    deepStrictEqual(received, [])
    deepStrictEqual(stats(), before)
  })
})

describe("10: a job function that throws or rejects", () => {
  for (
    const [how, body] of [
      ["throws", (): number => {
        throw new Error("thrown")
      }],
      ["rejects after a pause", async () => {
        await ASYNC_pause_job()
        throw new Error("rejected")
      }]
    ] as const
  ) {
    it(`${how}: ASYNC_ERR, *ret untouched, the slot back in the pool, the error in job.error`, async () => {
      strictEqual(ASYNC_init_thread(1, 0), 1)
      const job = jobBox()
      const ret = box(-1)
      let result = await ASYNC_start_job(job, null, ret, body, null)
      if (result === ASYNC_PAUSE) result = await ASYNC_start_job(job, null, ret, body, null)
      strictEqual(result, ASYNC_ERR)
      strictEqual(job.value, null)
      strictEqual(ret.value, -1)
      assertInstanceOf(job.error, Error)
      strictEqual((job.error as Error).message, how === "throws" ? "thrown" : "rejected")
      deepStrictEqual(stats(), { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 })
      // the next successful call on the same box removes the error
      await expectStart(ASYNC_PAUSE, job, null, box(0), onlyPause)
      strictEqual("error" in job, false)
      await expectStart(ASYNC_FINISH, job, null, box(0), onlyPause)
    })
  }
})

describe("11: ambient context is isolated per job", () => {
  it("what a job sets synchronously before its first await does not leak into the caller", async () => {
    const storage = new AsyncLocalStorage<string>()
    await storage.run("caller", async () => {
      const body = async () => {
        const inherited = storage.getStore()
        storage.enterWith("job")
        await ASYNC_pause_job()
        return inherited === "caller" && storage.getStore() === "job" ? 1 : 0
      }
      const job = jobBox()
      const ret = box(0)
      await expectStart(ASYNC_PAUSE, job, null, ret, body)
      strictEqual(storage.getStore(), "caller")
      storage.enterWith("caller, later")
      await expectStart(ASYNC_FINISH, job, null, ret, body)
      strictEqual(ret.value, 1)
      strictEqual(storage.getStore(), "caller, later")
    })
  })
})

describe("12: everything else follows OpenSSL", () => {
  it("NO_JOBS has no side effects; pause outside a job returns 1", async () => {
    strictEqual(await ASYNC_pause_job(), 1)
    strictEqual(ASYNC_get_current_job(), null)
    strictEqual(ASYNC_init_thread(1, 1), 1)
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), onlyPause)
    const before = stats()
    const refused = jobBox()
    const ret = box(-1)
    let ran = false
    await expectStart(ASYNC_NO_JOBS, refused, null, ret, async () => {
      ran = true
      return 1
    })
    deepStrictEqual([refused.value, ret.value, ran], [null, -1, false])
    deepStrictEqual(stats(), before)
    // and the refused starts are not kept: a caller retrying until a slot frees holds nothing more
    for (let i = 0; i < 100; i++) await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
    strictEqual(liveJobs(), 1)
    await expectStart(ASYNC_FINISH, job, null, box(0), onlyPause)
    await expectStart(ASYNC_FINISH, refused, null, ret, async () => 2)
    strictEqual(ret.value, 2)
  })

  it("a restart ignores func, args and ctx; ret comes from the call that sees FINISH", async () => {
    const ctx = track(ASYNC_WAIT_CTX_new())
    const body = async (n: number) => {
      await ASYNC_pause_job()
      return ASYNC_get_wait_ctx(ASYNC_get_current_job()!) === ctx ? n : -1
    }
    const job = jobBox()
    const first = box(0)
    const second = box(0)
    await expectStart(ASYNC_PAUSE, job, ctx, first, body, 4)
    await expectStart(ASYNC_FINISH, job, null, second, async () => 99, 100)
    deepStrictEqual([first.value, second.value], [0, 4])
  })

  it("invalid calls return ASYNC_ERR and never throw", async () => {
    const calls: Array<() => Promise<number>> = [
      () => ASYNC_start_job(null as never, null, box(0), onlyPause, null),
      () => ASYNC_start_job(jobBox(), null, null as never, onlyPause, null),
      () => ASYNC_start_job(jobBox(), null, box(0), "f" as never, null),
      () => ASYNC_start_job(jobBox(), {} as never, box(0), onlyPause, null),
      () => ASYNC_start_job(jobBox(), null, box(0), onlyPause, new Uint8Array(1), "1" as never)
    ]
    for (const call of calls) strictEqual(await call(), ASYNC_ERR)
    strictEqual(stats(), undefined)
    strictEqual(ASYNC_get_wait_ctx(null as never), null)
    strictEqual(ASYNC_get_wait_ctx({} as never), null)
  })
})
