/**
 * Runner b of the Postgres example (`node --import tsx
 * pg-approve.ts <url> <port> <dir>`), started while runner a runs:
 * approves refund o-1 with the token runner a handed over, and
 * resumes it to its end.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as NodeServices from "@effect/platform-node/NodeServices"
import {
  Console,
  Effect,
  FileSystem,
  Layer,
  Schedule
} from "effect"
import * as path from "node:path"
import { layerPostgres } from "./postgres.js"
import { Refund } from "./refund.js"

const [url, port, dir] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const token = yield* fs.readFileString(
    path.join(dir!, "o-1.token")
  )
  const jobId = yield* DurableJob.jobId(Refund, {
    orderId: "o-1",
    amount: 5
  })
  const status = yield* DurableJob.poll(Refund, jobId)
  yield* Console.log(`runner b, poll o-1: ${status._tag}`)
  // while the job's shard moves between runners, signal answers
  // StoreError; sending it again is safe
  yield* DurableJob.signal(token, true).pipe(
    Effect.retry({
      while: (error) => error._tag === "StoreError",
      schedule: Schedule.spaced("500 millis").pipe(
        Schedule.upTo({ duration: "2 minutes" })
      )
    })
  )
  const done = yield* DurableJob.resume(Refund, jobId)
  const value = done._tag === "Finished" ? `: ${done.value}` : ""
  yield* Console.log(`runner b, resume o-1: ${done._tag}${value}`)
  const { idle, running } =
    yield* (yield* DurableJobPool.DurableJobPool).stats
  yield* Console.log(
    `runner b, stats: running ${running}, ended ${idle}`
  )
})

const Runner = layerPostgres(
  url!,
  Number(port),
  path.join(dir!, "runner-b.log")
)

Effect.runPromise(
  program.pipe(
    Effect.provide(Layer.merge(Runner, NodeServices.layer))
  )
)
