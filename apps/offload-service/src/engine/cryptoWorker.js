// @ts-check
/**
 * The body of one engine worker thread. Protocol (all messages structured-cloned):
 *
 * - in: `{ batch: [[id, request], …] }` runs the operations in order (the
 *   engine sends the requests of one turn of its event loop in one message);
 *   `{ crash: true }` throws an uncaught error on purpose (tests use it to
 *   crash the worker);
 * - out: `{ ready: true }` once the keys are imported, then
 *   `{ answers: [[id, true, result] | [id, false, message], …] }`, in order:
 *   the answers of a batch go in one message, but a batch that has computed
 *   for {@link flushAfterMs} sends what it has so far first, so that a slow
 *   operation (an RSA signature, scrypt) is answered when it is done, not when
 *   the batch is: the engine then hands this worker more work before it runs
 *   out of it.
 */
import { parentPort, workerData } from "node:worker_threads"
import { importKeys, perform } from "./cryptoOps.js"

const port = parentPort
if (port === null) throw new Error("cryptoWorker.js must run in a worker thread")

const signers = importKeys(/** @type {import("./cryptoOps.js").KeyMaterial} */ (workerData))

/** @typedef {[id: number, request: import("./cryptoOps.js").OpRequest]} Task */

/** How long a batch computes before it sends the answers it has (milliseconds). */
const flushAfterMs = 0.5

port.on("message", (/** @type {{ batch?: ReadonlyArray<Task>; crash?: true }} */ message) => {
  if (message.crash === true) throw new Error("crash requested")
  if (message.batch === undefined) return
  /** @type {Array<[number, boolean, unknown]>} */
  let answers = []
  let since = performance.now()
  for (const [id, request] of message.batch) {
    try {
      answers.push([id, true, perform(request, signers)])
    } catch (error) {
      answers.push([id, false, error instanceof Error ? error.message : String(error)])
    }
    const now = performance.now()
    if (now - since >= flushAfterMs) {
      port.postMessage({ answers })
      answers = []
      since = now
    }
  }
  if (answers.length > 0) port.postMessage({ answers })
})

port.postMessage({ ready: true })
