/**
 * Cancelling a paused durable job: `DurableJob.cancel` interrupts
 * it, runs its compensations once, frees its slot and answers its
 * final status. A cancelled job stays cancelled: resuming or
 * starting it again answers core's `StaleJobError`, and cancelling
 * it again changes nothing.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Console, Effect, Layer } from "effect"
import { Refund, RefundLive } from "./durable/refund.js"

const program = Effect.gen(function*() {
  const step = yield* DurableJob.start(Refund, {
    orderId: "o-1",
    amount: 5
  })
  yield* Console.log(`start o-1: ${step._tag}`)

  // one slot, held by the paused job: another start is refused at
  // once
  const full = yield* Effect.flip(
    DurableJob.start(Refund, { orderId: "o-2", amount: 3 })
  )
  yield* Console.log(`start o-2: ${full._tag}`)

  const cancelled = yield* DurableJob.cancel(Refund, step.jobId)
  yield* Console.log(`cancel o-1: ${cancelled._tag}`)
  yield* Console.log(
    `poll o-1: ${(yield* DurableJob.poll(Refund, step.jobId))._tag}`
  )
  yield* Console.log(
    `cancel o-1 again: ${
      (yield* DurableJob.cancel(Refund, step.jobId))._tag
    }`
  )

  const stale = yield* Effect.flip(
    DurableJob.resume(Refund, step.jobId)
  )
  yield* Console.log(`resume o-1: ${stale._tag}`)
  const restarted = yield* Effect.flip(
    DurableJob.start(Refund, { orderId: "o-1", amount: 5 })
  )
  yield* Console.log(`start o-1 again: ${restarted._tag}`)

  // the slot is free again
  const next = yield* DurableJob.start(Refund, {
    orderId: "o-2",
    amount: 3
  })
  yield* Console.log(`start o-2: ${next._tag}`)
})

const Durable = RefundLive.pipe(
  Layer.provideMerge(DurableJobPool.layerMemory({ maxSize: 1 }))
)

Effect.runPromise(program.pipe(Effect.provide(Durable)))
