/**
 * The first process of the SQLite example (`node --import tsx
 * sqlite-start.ts <dir>`): opens `<dir>/jobs.db`, starts two
 * refunds, which pause, hands each one's token over (a file
 * `<dir>/<order>.token` stands in for the email to whoever
 * approves), and exits. The paused jobs stay in the file.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect, FileSystem, Layer } from "effect"
import * as path from "node:path"
import { Refund, RefundLive } from "./refund.js"

const dir = process.argv[2]!

// the embedded durable engine: jobs, journal and pool in one SQLite
// file
const Durable = RefundLive.pipe(
  Layer.provideMerge(
    DurableJobPool.layerSqlite({
      filename: path.join(dir, "jobs.db"),
      maxSize: 8
    })
  )
)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  for (const orderId of ["o-1", "o-2"]) {
    const step = yield* DurableJob.start(Refund, {
      orderId,
      amount: 5
    })
    yield* Console.log(`start ${orderId}: ${step._tag}`)
    if (step._tag === "Paused") {
      yield* fs.writeFileString(
        path.join(dir, `${orderId}.token`),
        step.tokens[0]!
      )
    }
  }
  const { paused } = yield* (yield* DurableJobPool.DurableJobPool)
    .stats
  yield* Console.log(`paused jobs: ${paused}; exiting`)
})

Effect.runPromise(
  program.pipe(
    Effect.provide(Layer.merge(Durable, NodeServices.layer))
  )
)
