import { NodeWaitFd } from "@async-job/platform-node"
import { afterEach, beforeEach } from "@effect/vitest"
import { strictEqual } from "@effect/vitest/utils"
import * as fs from "node:fs"
import type { ASYNC_JOB, ASYNC_WAIT_CTX } from "../src/index.js"
import { ASYNC_cleanup_thread, ASYNC_pause_job, ASYNC_start_job, ASYNC_WAIT_CTX_free } from "../src/index.js"
import { liveJobsUnsafe, threadStatsUnsafe } from "../src/internal/job.js"

/** `{ value }` boxes, C's out-parameters. */
export interface JobBox {
  value: ASYNC_JOB | null
  error?: unknown
}
export const jobBox = (): JobBox => ({ value: null })
export const box = <T>(value: T): { value: T } => ({ value })

export const openFdCount = (): number => fs.readdirSync("/proc/self/fd").length

export const stats = () => threadStatsUnsafe()

/** Jobs the thread holds as started and not settled. */
export const liveJobs = () => liveJobsUnsafe()

/**
 * Every test ends with `ASYNC_cleanup_thread()` (spec §4: "every scenario ends with free(W) and cleanup()"),
 * frees the wait ctxs it registered with `track`, and checks that no descriptor and no watch was left open.
 */
export const useCleanState = () => {
  let fds = 0
  const ctxs: Array<ASYNC_WAIT_CTX> = []
  beforeEach(async () => {
    await ASYNC_cleanup_thread()
    fds = openFdCount()
  })
  afterEach(async () => {
    for (const ctx of ctxs.splice(0)) await ASYNC_WAIT_CTX_free(ctx)
    await ASYNC_cleanup_thread()
    strictEqual(NodeWaitFd.watchedFdCount(), 0, "fds still watched")
    strictEqual(openFdCount(), fds, "open descriptors")
    strictEqual(stats(), undefined, "the thread's pool is gone")
  })
  return <C extends ASYNC_WAIT_CTX>(ctx: C): C => {
    ctxs.push(ctx)
    return ctx
  }
}

/** A job body that pauses once, then returns 1 (asynctest's `only_pause`). */
export const onlyPause = async () => {
  await ASYNC_pause_job()
  return 1
}

/** Starts or resumes and checks the result, as asynctest's `!TEST_int_eq(ASYNC_start_job(...), X)`. */
export const expectStart = async (
  expected: number,
  job: JobBox,
  ctx: ASYNC_WAIT_CTX | null,
  ret: { value: number },
  func: (args: any) => number | Promise<number>,
  args: unknown = null,
  size?: number
): Promise<void> => {
  const result = size === undefined
    ? await ASYNC_start_job(job, ctx, ret, func, args)
    : await ASYNC_start_job(job, ctx, ret, func, args, size)
  strictEqual(result, expected, "ASYNC_start_job result")
}

/** Creates a pipe whose cleanup routine closes both ends, as the man page's example does. */
export const makePipe = () => {
  const [readFd, writeFd] = NodeWaitFd.pipe()
  return { readFd, writeFd: { value: writeFd } }
}

export const closeBoth = (_ctx: unknown, _key: unknown, readFd: number, custom: unknown) => {
  NodeWaitFd.close(readFd)
  NodeWaitFd.close((custom as { value: number }).value)
}
