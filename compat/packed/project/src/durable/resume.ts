/**
 * The second process (`node resume.js <dir>`), on the same SQLite file: approves the refund with the token the
 * first process handed over, and resumes it to its end.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { durable, Refund } from "./refund.js"

const dir = process.argv[2]!

const program = Effect.gen(function*() {
  const jobId = yield* DurableJob.jobId(Refund, { orderId: "o-1", amount: 5 })
  const before = yield* DurableJob.poll(Refund, jobId)
  yield* Console.log(`poll o-1: ${before._tag}`)
  yield* DurableJob.signal(fs.readFileSync(path.join(dir, "token"), "utf8"), true)
  const step = yield* DurableJob.resume(Refund, jobId)
  yield* Console.log(`resume o-1: ${step._tag}${step._tag === "Finished" ? `: ${step.value}` : ""}`)
  const { paused } = yield* (yield* DurableJobPool.DurableJobPool).stats
  yield* Console.log(`paused jobs: ${paused}`)
})

await Effect.runPromise(program.pipe(Effect.provide(durable(dir))))
