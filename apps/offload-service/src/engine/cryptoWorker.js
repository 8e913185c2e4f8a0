// @ts-check
/**
 * The body of one engine worker thread. Protocol (all messages structured-cloned):
 *
 * - in: `{ id, request }` runs one operation; `{ id: -1, crash: true }` throws
 *   an uncaught error on purpose (tests use it to crash the worker);
 * - out: `{ ready: true }` once the keys are imported, then per request
 *   `{ id, ok: true, result }` or `{ id, ok: false, message }`, in order.
 */
import { parentPort, workerData } from "node:worker_threads"
import { importKeys, perform } from "./cryptoOps.js"

const port = parentPort
if (port === null) throw new Error("cryptoWorker.js must run in a worker thread")

const signers = importKeys(/** @type {import("./cryptoOps.js").KeyMaterial} */ (workerData))

port.on("message", (/** @type {{ id: number; request?: import("./cryptoOps.js").OpRequest; crash?: true }} */ message) => {
  if (message.crash === true) throw new Error("crash requested")
  if (message.request === undefined) return
  let reply
  try {
    reply = { id: message.id, ok: true, result: perform(message.request, signers) }
  } catch (error) {
    reply = { id: message.id, ok: false, message: error instanceof Error ? error.message : String(error) }
  }
  port.postMessage(reply)
})

port.postMessage({ ready: true })
