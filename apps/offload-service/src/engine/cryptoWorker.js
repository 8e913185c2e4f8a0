// @ts-check
/**
 * The body of one engine worker thread. Protocol (all messages structured-cloned):
 *
 * - in: `{ batch: [[id, request], …] }` runs the operations in order (the
 *   engine sends the requests of one turn of its event loop in one message);
 *   `{ crash: true }` throws an uncaught error on purpose (tests use it to
 *   crash the worker);
 * - out: `{ ready: true }` once the keys are imported, then per batch
 *   `{ answers: [[id, true, result] | [id, false, message], …] }`, in order.
 */
import { parentPort, workerData } from "node:worker_threads"
import { importKeys, perform } from "./cryptoOps.js"

const port = parentPort
if (port === null) throw new Error("cryptoWorker.js must run in a worker thread")

const signers = importKeys(/** @type {import("./cryptoOps.js").KeyMaterial} */ (workerData))

/** @typedef {[id: number, request: import("./cryptoOps.js").OpRequest]} Task */

port.on("message", (/** @type {{ batch?: ReadonlyArray<Task>; crash?: true }} */ message) => {
  if (message.crash === true) throw new Error("crash requested")
  if (message.batch === undefined) return
  /** @type {Array<[number, boolean, unknown]>} */
  const answers = []
  for (const [id, request] of message.batch) {
    try {
      answers.push([id, true, perform(request, signers)])
    } catch (error) {
      answers.push([id, false, error instanceof Error ? error.message : String(error)])
    }
  }
  port.postMessage({ answers })
})

port.postMessage({ ready: true })
