/**
 * A durable job in one process, in memory: start it, see it paused
 * on its token, signal the token, resume it to its end, and poll
 * it. `DurableJobPool.layerMemory` keeps nothing across a restart;
 * the SQLite and Postgres examples run the same job durably.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Console, Effect, Layer } from "effect"
import { Refund, RefundLive } from "./durable/refund.js"

const program = Effect.gen(function*() {
  // runs the body up to its first pause: Paused, with one token per
  // wait fd it waits on
  const step = yield* DurableJob.start(Refund, {
    orderId: "o-1",
    amount: 5
  })
  yield* Console.log(
    `start: ${step._tag} ${step.jobId}, ${
      step._tag === "Paused" ? step.tokens.length : 0
    } token`
  )
  if (step._tag !== "Paused") return

  // starting the same refund again attaches to it: same job,
  // nothing runs twice
  const again = yield* DurableJob.start(Refund, {
    orderId: "o-1",
    amount: 5
  })
  yield* Console.log(`start again: ${again._tag} ${again.jobId}`)

  // a value that does not match the wait fd's Schema is refused;
  // the job keeps waiting
  const invalid = yield* Effect.flip(
    DurableJob.signal(step.tokens[0]!, "yes")
  )
  yield* Console.log(`signal "yes": ${invalid._tag}`)
  yield* Console.log(
    `poll: ${(yield* DurableJob.poll(Refund, step.jobId))._tag}`
  )

  // the token is all another party needs to continue the job
  yield* DurableJob.signal(step.tokens[0]!, true)
  const done = yield* DurableJob.resume(Refund, step)
  yield* Console.log(
    `resume: ${done._tag}${
      done._tag === "Finished" ? `: ${done.value}` : ""
    }`
  )

  const pool = yield* DurableJobPool.DurableJobPool
  const { created, idle, paused, running } = yield* pool.stats
  yield* Console.log(
    `stats: created ${created}, running ${running}, ` +
      `paused ${paused}, ended ${idle}`
  )

  // refused: the body fails with its Schema'd error, and the
  // compensation releases the reservation
  const other = yield* DurableJob.start(Refund, {
    orderId: "o-2",
    amount: 7
  })
  if (other._tag === "Paused") {
    yield* DurableJob.signal(other.tokens[0]!, false)
    const refused = yield* Effect.flip(
      DurableJob.resume(Refund, other)
    )
    yield* Console.log(`resume o-2: ${refused._tag}`)
  }
})

const Durable = RefundLive.pipe(
  Layer.provideMerge(DurableJobPool.layerMemory({ maxSize: 8 }))
)

Effect.runPromise(program.pipe(Effect.provide(Durable)))
