/**
 * Port decision 13 for the facade: each JavaScript thread has its own pool, limits and state.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { on, once } from "node:events"
import { Worker } from "node:worker_threads"
import { ASYNC_FINISH, ASYNC_init_thread, ASYNC_NO_JOBS, ASYNC_PAUSE } from "../src/index.js"
import { box, expectStart, jobBox, onlyPause, stats, useCleanState } from "./utils.js"

useCleanState()

/**
 * A worker thread whose messages and exit are recorded from the moment it is spawned: on a busy machine one
 * worker may post its last message and exit long before the other has answered, so a listener attached only
 * once both have answered would miss that exit and wait forever.
 */
const spawn = (maxSize: number) => {
  const worker = new Worker(new URL("./fixtures/thread.mjs", import.meta.url), { workerData: { maxSize } })
  const inbox: AsyncIterator<Array<unknown>> = on(worker, "message")
  const exited = once(worker, "exit")
  // an error event rejects `exited` too; it is reported where it is awaited (or by the inbox), not as unhandled
  exited.catch(() => {})
  return {
    worker,
    next: async (): Promise<unknown> => {
      const result = await inbox.next()
      if (result.done === true) throw new Error("the worker's messages ended")
      return result.value[0]
    },
    exited,
    close: async () => {
      await inbox.return?.()
      await worker.terminate()
    }
  }
}

describe("threads", () => {
  it("each worker thread has its own pool and limits, independent of the main thread's", async () => {
    strictEqual(ASYNC_init_thread(1, 0), 1)
    const mine = jobBox()
    await expectStart(ASYNC_PAUSE, mine, null, box(0), onlyPause)
    const workers = [spawn(2), spawn(3)]
    try {
      const reports = await Promise.all(workers.map((worker) => worker.next()))
      deepStrictEqual(
        reports,
        [2, 3].map((maxSize) => ({
          fresh: true,
          init: 1,
          started: [...Array(maxSize).fill(ASYNC_PAUSE), ASYNC_NO_JOBS],
          stats: { maxSize, created: maxSize, idle: 0, running: 0, paused: maxSize }
        }))
      )
      // the main thread's pool did not change, and is still full
      deepStrictEqual(stats(), { maxSize: 1, created: 1, idle: 0, running: 0, paused: 1 })
      await expectStart(ASYNC_NO_JOBS, jobBox(), null, box(0), onlyPause)
      for (const { worker } of workers) worker.postMessage("finish")
      const ends = await Promise.all(workers.map((worker) => worker.next()))
      deepStrictEqual(
        ends,
        [2, 3].map((maxSize) => ({
          finished: Array(maxSize).fill(ASYNC_FINISH),
          sum: (maxSize * (maxSize - 1)) / 2,
          stats: { maxSize, created: maxSize, idle: maxSize, running: 0, paused: 0 },
          afterCleanup: null
        }))
      )
      deepStrictEqual(await Promise.all(workers.map((worker) => worker.exited)), [[0], [0]])
      await expectStart(ASYNC_FINISH, mine, null, box(0), onlyPause)
    } finally {
      await Promise.all(workers.map((worker) => worker.close()))
    }
  })
})
