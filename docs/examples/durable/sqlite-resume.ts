/**
 * The second process of the SQLite example (`node --import tsx
 * sqlite-resume.ts <dir>`), started after the first exited: opens
 * the same `<dir>/jobs.db`, approves refund o-1 with the token the
 * first process handed over and resumes it to its end, and cancels
 * refund o-2.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect, FileSystem, Layer } from "effect"
import * as path from "node:path"
import { Refund, RefundLive } from "./refund.js"

const dir = process.argv[2]!

// the same file; no maxSize: the bound stored in the file applies
const Durable = RefundLive.pipe(
  Layer.provideMerge(
    DurableJobPool.layerSqlite({
      filename: path.join(dir, "jobs.db")
    })
  )
)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const first = yield* DurableJob.jobId(Refund, {
    orderId: "o-1",
    amount: 5
  })
  const second = yield* DurableJob.jobId(Refund, {
    orderId: "o-2",
    amount: 5
  })
  yield* Console.log(
    `poll o-1: ${(yield* DurableJob.poll(Refund, first))._tag}`
  )

  const token = yield* fs.readFileString(
    path.join(dir, "o-1.token")
  )
  yield* DurableJob.signal(token, true)
  const done = yield* DurableJob.resume(Refund, first)
  yield* Console.log(
    `resume o-1: ${done._tag}${
      done._tag === "Finished" ? `: ${done.value}` : ""
    }`
  )

  const cancelled = yield* DurableJob.cancel(Refund, second)
  yield* Console.log(`cancel o-2: ${cancelled._tag}`)
  const { idle, maxSize, paused } =
    yield* (yield* DurableJobPool.DurableJobPool).stats
  yield* Console.log(
    `paused jobs: ${paused}, ended: ${idle}, bound: ${maxSize}`
  )
})

Effect.runPromise(
  program.pipe(
    Effect.provide(Layer.merge(Durable, NodeServices.layer))
  )
)
