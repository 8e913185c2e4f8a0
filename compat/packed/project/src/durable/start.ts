/**
 * The first process (`node start.js <dir>`): starts a refund, which pauses, hands its token over in a file, and
 * exits with the job paused in the SQLite file.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { durable, Refund } from "./refund.js"

const dir = process.argv[2]!

const program = Effect.gen(function*() {
  const step = yield* DurableJob.start(Refund, { orderId: "o-1", amount: 5 })
  if (step._tag !== "Paused") return yield* Effect.die(`expected a pause, got ${step._tag}`)
  yield* Console.log(`start o-1: Paused on ${step.tokens.length} token`)
  fs.writeFileSync(path.join(dir, "token"), step.tokens[0]!)
  const { paused } = yield* (yield* DurableJobPool.DurableJobPool).stats
  yield* Console.log(`paused jobs: ${paused}`)
})

await Effect.runPromise(program.pipe(Effect.provide(durable(dir))))
