/**
 * Fault injection into the facade (`@async-job/openssl`): at each step of a job function (each segment and
 * its `finally` block) and in the fd cleanup routine, a throw, a throw of a non-Error value, and a
 * cancellation while the step runs (`ASYNC_cleanup_thread()` or `ASYNC_WAIT_CTX_free()` called meanwhile).
 * Afterwards the results and out-parameters are those the spec allows, the `finally` block and the cleanup
 * routine ran exactly once, the thread still works, and no descriptor, watch or job slot is left.
 */
import {
  ASYNC_cleanup_thread,
  ASYNC_ERR,
  ASYNC_FINISH,
  ASYNC_init_thread,
  type ASYNC_JOB,
  ASYNC_NO_JOBS,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_start_job,
  type ASYNC_WAIT_CTX,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_get_all_fds,
  ASYNC_WAIT_CTX_new,
  ASYNC_WAIT_CTX_set_wait_fd
} from "@async-job/openssl"
import { NodeWaitFd } from "@async-job/platform-node"
import { afterEach, beforeEach, describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as fs from "node:fs"

type FacadeFault = "throw" | "throwValue" | "cleanupThread" | "freeCtx"

const openFds = () => fs.readdirSync("/proc/self/fd").length

class Injected extends Error {}

interface Gate {
  readonly reached: Promise<void>
  readonly open: () => void
  readonly wait: () => Promise<void>
}

const gate = (): Gate => {
  let reach!: () => void
  let open!: () => void
  const reached = new Promise<void>((resolve) => (reach = resolve))
  const opened = new Promise<void>((resolve) => (open = resolve))
  return {
    reached,
    open,
    wait: () => {
      reach()
      return opened
    }
  }
}

interface Run {
  readonly fault: FacadeFault
  readonly label: string
  readonly gate: Gate
  finallyRuns: number
  finallyPauseRejected: number
  cleanupRuns: number
  fired: boolean
}

/** The point `label` of the job function: does the fault when it is the planned point. */
const point = async (run: Run, label: string): Promise<void> => {
  if (run.fired || run.label !== label) return
  run.fired = true
  switch (run.fault) {
    case "throw":
      throw new Injected(label)
    case "throwValue":
      throw `injected at ${label}`
    default:
      // a cancellation lands while the job function is busy here
      await run.gate.wait()
  }
}

/** The same in a synchronous cleanup routine (a cancellation does not apply there). */
const syncPoint = (run: Run, label: string): void => {
  if (run.fired || run.label !== label) return
  run.fired = true
  if (run.fault === "throw") throw new Injected(label)
  if (run.fault === "throwValue") throw `injected at ${label}`
}

const KEY = { engine: "fault" }

const jobFunction = (run: Run, ctx: ASYNC_WAIT_CTX) => async (): Promise<number> => {
  try {
    await point(run, "segment 1")
    const [readFd, writeFd] = NodeWaitFd.pipe()
    ASYNC_WAIT_CTX_set_wait_fd(ctx, KEY, readFd, { writeFd }, (_ctx, _key, fd, custom) => {
      run.cleanupRuns++
      NodeWaitFd.close(fd)
      NodeWaitFd.close((custom as { writeFd: number }).writeFd)
      syncPoint(run, "cleanup")
    })
    await ASYNC_pause_job()
    await point(run, "segment 2")
    await ASYNC_pause_job()
    await point(run, "segment 3")
    return 7
  } finally {
    run.finallyRuns++
    // a cleanup that pauses (an asynchronous graceful shutdown): a cancellation rejects this pause too
    await ASYNC_pause_job().catch(() => {
      run.finallyPauseRejected++
    })
    await point(run, "finally")
  }
}

const segments = ["segment 1", "segment 2", "segment 3", "finally"]

describe("fault injection: facade", () => {
  let baseline = 0
  beforeEach(async () => {
    await ASYNC_cleanup_thread()
    baseline = openFds()
  })
  afterEach(async () => {
    await ASYNC_cleanup_thread()
    strictEqual(NodeWaitFd.watchedFdCount(), 0, "no watch left")
    strictEqual(openFds(), baseline, "no descriptor left")
  })

  const cases: Array<[string, FacadeFault]> = []
  for (const label of segments) {
    for (const fault of ["throw", "throwValue", "cleanupThread", "freeCtx"] as const) cases.push([label, fault])
  }
  for (const fault of ["throw", "throwValue"] as const) cases.push(["cleanup", fault])

  for (const [label, fault] of cases) {
    it(`${fault} at ${label}`, async () => {
      strictEqual(ASYNC_init_thread(1, 0), 1)
      const ctx = ASYNC_WAIT_CTX_new()
      const run: Run = {
        fault,
        label,
        gate: gate(),
        finallyRuns: 0,
        finallyPauseRejected: 0,
        cleanupRuns: 0,
        fired: false
      }
      const job: { value: ASYNC_JOB | null; error?: unknown } = { value: null }
      const ret = { value: -1 }
      const func = jobFunction(run, ctx)

      const drive = (async () => {
        let result = await ASYNC_start_job(job, ctx, ret, func, null)
        const handles: Array<ASYNC_JOB> = []
        while (result === ASYNC_PAUSE) {
          handles.push(job.value!)
          result = await ASYNC_start_job(job, ctx, ret, func, null)
        }
        return { result, handles }
      })()
      let cancelling: Promise<void> | undefined
      if (fault === "cleanupThread" || fault === "freeCtx") {
        await run.gate.reached
        cancelling = fault === "cleanupThread" ? ASYNC_cleanup_thread() : ASYNC_WAIT_CTX_free(ctx)
        run.gate.open()
      }
      const { handles, result } = await drive
      await cancelling
      // the canceller resolves only once the job function has settled (Port decisions 5, 8)
      if (cancelling !== undefined) {
        strictEqual(run.finallyRuns, 1, "the finally block ran before the canceller resolved")
      }

      const cancelled = fault === "cleanupThread" || fault === "freeCtx"
      if (label !== "cleanup") {
        // the job function failed, or was cancelled while it ran: ERR, no handle, the error kept
        strictEqual(result, ASYNC_ERR)
        strictEqual(job.value, null)
        strictEqual(ret.value, -1, "ret untouched")
        if (cancelled) {
          // cancelled: the job's next pause rejected (or, in its finally block, the cancellation came too late to matter)
          assertTrue(
            (job.error as { code?: string } | undefined)?.code === "ERR_ASYNC_JOB_CANCELLED" || label === "finally"
          )
        } else if (fault === "throw") {
          assertTrue(job.error instanceof Injected)
        } else {
          strictEqual(job.error, `injected at ${label}`)
        }
      } else {
        strictEqual(result, ASYNC_FINISH)
        strictEqual(ret.value, 7)
      }
      strictEqual(run.finallyRuns, 1, "the finally block ran once")
      // the pause in the finally block was rejected exactly when the job was cancelled before reaching it
      strictEqual(run.finallyPauseRejected, cancelled && label !== "finally" ? 1 : 0, "the finally block's pause")
      // every handle of the run is stale now
      for (const handle of handles) {
        strictEqual(await ASYNC_start_job({ value: handle }, ctx, ret, func, null), ASYNC_ERR)
      }

      // the thread still works, and its one slot is free again (no NO_JOBS)
      const again = { value: null as ASYNC_JOB | null }
      const once = async () => {
        await ASYNC_pause_job()
        return 5
      }
      const first = await ASYNC_start_job(again, null, ret, once, null)
      assertTrue(first === ASYNC_PAUSE, `a new job starts (got ${first}, ${ASYNC_NO_JOBS} would be NO_JOBS)`)
      strictEqual(await ASYNC_start_job(again, null, ret, once, null), ASYNC_FINISH)
      strictEqual(ret.value, 5)

      // the wait ctx: the fd is registered unless the ctx was freed; freeing runs its cleanup once
      const numfds = { value: -1 }
      const freed = fault === "freeCtx"
      const registered = label !== "segment 1" || cancelled
      if (!freed) {
        strictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 1)
        strictEqual(numfds.value, registered ? 1 : 0)
      }
      await ASYNC_WAIT_CTX_free(ctx)
      strictEqual(run.cleanupRuns, registered ? 1 : 0, "the cleanup routine ran once")
      deepStrictEqual(ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds), 0)
      assertTrue(run.fired, "the point was reached")
    })
  }

  // cancelling a paused job: its pending ASYNC_pause_job() rejects, its finally block runs, and the canceller
  // resolves after that
  for (const pauses of [1, 2]) {
    for (const canceller of ["cleanupThread", "freeCtx"] as const) {
      it(`${canceller} while the job is paused (pause ${pauses})`, async () => {
        strictEqual(ASYNC_init_thread(1, 0), 1)
        const ctx = ASYNC_WAIT_CTX_new()
        const run: Run = {
          fault: canceller,
          label: "none",
          gate: gate(),
          finallyRuns: 0,
          finallyPauseRejected: 0,
          cleanupRuns: 0,
          fired: false
        }
        let rejection: unknown
        const func = async () => {
          try {
            for (let i = 0; i < pauses; i++) await ASYNC_pause_job()
            return 1
          } catch (error) {
            rejection = error
            throw error
          } finally {
            // an asynchronous finally block: the canceller must wait for it, not just for the rejection
            await new Promise<void>((resolve) => setImmediate(resolve))
            run.finallyRuns++
          }
        }
        const job: { value: ASYNC_JOB | null; error?: unknown } = { value: null }
        const ret = { value: -1 }
        let result = await ASYNC_start_job(job, ctx, ret, func, null)
        for (let i = 1; i < pauses; i++) result = await ASYNC_start_job(job, ctx, ret, func, null)
        strictEqual(result, ASYNC_PAUSE)
        const handle = job.value!
        await (canceller === "cleanupThread" ? ASYNC_cleanup_thread() : ASYNC_WAIT_CTX_free(ctx))
        strictEqual(run.finallyRuns, 1, "the finally block ran before the canceller resolved")
        strictEqual((rejection as { code?: string } | undefined)?.code, "ERR_ASYNC_JOB_CANCELLED")
        strictEqual(await ASYNC_start_job({ value: handle }, ctx, ret, func, null), ASYNC_ERR, "the handle is stale")
        strictEqual(ret.value, -1)
        await ASYNC_WAIT_CTX_free(ctx)
      })
    }
  }
})
