/**
 * Worker threads an engine spawns, seen through its `onWorkerSpawn` hook.
 */
import type { Worker } from "node:worker_threads"

/** Records the thread id of every worker spawned, and of every one that exited. */
export const trackWorkers = () => {
  const spawned: Array<number> = []
  const exited: Array<number> = []
  const onWorkerSpawn = (worker: Worker) => {
    const threadId = worker.threadId
    spawned.push(threadId)
    worker.once("exit", () => exited.push(threadId))
  }
  /** The threads spawned that have not exited. */
  const alive = () => spawned.filter((id) => !exited.includes(id))
  return { spawned, exited, alive, onWorkerSpawn }
}
