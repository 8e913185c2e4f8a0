/**
 * ASYNC_cleanup_thread and ASYNC_WAIT_CTX_free complete whatever the job was
 * doing when it paused: paused inside its own `finally` block (its cleanup),
 * paused again after catching the cancellation, or slow to unwind. While a job
 * unwinds, everything the caller reads agrees that it is gone.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import {
  ASYNC_cleanup_thread,
  ASYNC_ERR,
  ASYNC_get_wait_ctx,
  ASYNC_init_thread,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_new
} from "../src/index.js"
import { box, expectStart, jobBox, onlyPause, stats, useCleanState } from "./utils.js"

const track = useCleanState()

/** A job whose cleanup (its `finally` block) pauses: an asynchronous graceful shutdown of a session. */
const pausesInFinally = (log: Array<string>) => async () => {
  try {
    log.push("body")
    return 1
  } finally {
    log.push("cleanup begins")
    try {
      await ASYNC_pause_job()
      log.push("cleanup resumed")
    } catch (error) {
      log.push(`cleanup pause rejected: ${(error as Error).name}`)
    }
  }
}

describe("cancellation completes whatever the job was doing when it paused", () => {
  it("ASYNC_cleanup_thread with a job paused inside its own finally block", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const log: Array<string> = []
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, null, box(0), pausesInFinally(log))
    await ASYNC_cleanup_thread()
    log.push("cleanup resolved")
    deepStrictEqual(log, ["body", "cleanup begins", "cleanup pause rejected: JobCancelledError", "cleanup resolved"])
    await expectStart(ASYNC_ERR, job, null, box(0), onlyPause)
  })

  it("ASYNC_WAIT_CTX_free with a job paused inside its own finally block; the slot returns", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const log: Array<string> = []
    const ctx = track(ASYNC_WAIT_CTX_new())
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), pausesInFinally(log))
    await ASYNC_WAIT_CTX_free(ctx)
    log.push("free resolved")
    deepStrictEqual(log, ["body", "cleanup begins", "cleanup pause rejected: JobCancelledError", "free resolved"])
    deepStrictEqual(stats(), { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 })
    // with maxSize 1, the next job gets the slot
    await expectStart(ASYNC_PAUSE, jobBox(), null, box(0), onlyPause)
  })

  it("a job that pauses again after catching the cancellation still unwinds", async () => {
    const log: Array<string> = []
    const body = async () => {
      try {
        await ASYNC_pause_job()
      } catch {
        log.push("caught; pausing again")
        await ASYNC_pause_job().catch((error: Error) => log.push(`second pause rejected: ${error.name}`))
      }
      return 1
    }
    await expectStart(ASYNC_PAUSE, jobBox(), null, box(0), body)
    await ASYNC_cleanup_thread()
    deepStrictEqual(log, ["caught; pausing again", "second pause rejected: JobCancelledError"])
  })

  it("while a cancelled job unwinds slowly, its handle is stale, its wait ctx null, its slot held", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const log: Array<string> = []
    let finishUnwinding!: () => void
    const unwound = new Promise<void>((resolve) => {
      finishUnwinding = resolve
    })
    let unwinding!: () => void
    const unwindingStarted = new Promise<void>((resolve) => {
      unwinding = resolve
    })
    const body = async () => {
      try {
        await ASYNC_pause_job()
        return 1
      } finally {
        unwinding()
        await unwound
        log.push("finally done")
      }
    }
    const ctx = track(ASYNC_WAIT_CTX_new())
    const job = jobBox()
    await expectStart(ASYNC_PAUSE, job, ctx, box(0), body)
    const handle = job.value
    assertTrue(handle !== null)
    const freed = ASYNC_WAIT_CTX_free(ctx).then(() => log.push("free resolved"))
    await unwindingStarted
    strictEqual(ASYNC_get_wait_ctx(handle), null)
    await expectStart(ASYNC_ERR, job, null, box(0), onlyPause)
    // the unwinding job still holds the pool's only slot
    deepStrictEqual(stats(), { maxSize: 1, created: 1, idle: 0, running: 1, paused: 0 })
    finishUnwinding()
    await freed
    deepStrictEqual(log, ["finally done", "free resolved"])
    deepStrictEqual(stats(), { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 })
  })
})
