/**
 * Runner a of the Postgres example (`node --import tsx pg-start.ts
 * <url> <port> <dir>`): starts refund o-1, which pauses, hands its
 * token over (a file `<dir>/o-1.token` stands in for the email),
 * and keeps running, a runner among others, until its stdin closes;
 * then it polls the refund, which another runner approved.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as NodeServices from "@effect/platform-node/NodeServices"
import {
  Console,
  Effect,
  FileSystem,
  Layer,
  Stdio,
  Stream
} from "effect"
import * as path from "node:path"
import { layerPostgres } from "./postgres.js"
import { Refund } from "./refund.js"

const [url, port, dir] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const step = yield* DurableJob.start(Refund, {
    orderId: "o-1",
    amount: 5
  })
  yield* Console.log(`runner a, start o-1: ${step._tag}`)
  if (step._tag === "Paused") {
    yield* fs.writeFileString(
      path.join(dir!, "o-1.token"),
      step.tokens[0]!
    )
  }
  yield* Console.log("runner a: running until stdin closes")
  yield* Stream.runDrain((yield* Stdio.Stdio).stdin)
  const status = yield* DurableJob.poll(Refund, step.jobId)
  yield* Console.log(`runner a, poll o-1: ${status._tag}`)
})

const Runner = layerPostgres(
  url!,
  Number(port),
  path.join(dir!, "runner-a.log")
)

Effect.runPromise(
  program.pipe(
    Effect.provide(Layer.merge(Runner, NodeServices.layer))
  )
)
