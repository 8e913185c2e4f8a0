/**
 * The durable job of the durable guide's examples: a refund that
 * reserves the amount, pauses until someone approves it, then pays
 * it. The definition (`Refund`) is what every process that starts,
 * signals, polls or cancels refunds needs; the body (`RefundLive`)
 * is registered only by the processes that run them.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import { Console, Effect, Schema } from "effect"
import * as Activity from "effect/workflow/Activity"
import * as Workflow from "effect/workflow/Workflow"

/** The refund was refused by whoever was asked to approve it. */
export class RefundRefused
  extends Schema.TaggedError<RefundRefused>()("RefundRefused", {
    orderId: Schema.String
  })
{}

export const Refund = DurableJob.make({
  name: "Refund",
  payload: { orderId: Schema.String, amount: Schema.Number },
  success: Schema.String,
  error: RefundRefused,
  // the wait fds it may pause on, with the Schema of the value each
  // is signalled with
  waits: { approval: Schema.Boolean },
  // its identity: starting the refund of an order twice attaches to
  // the first
  jobId: ({ orderId }) => `refund-${orderId}`
})

export const RefundLive = DurableJob.toLayer(
  Refund,
  ({ amount, orderId }) =>
    Effect.gen(function*() {
      // an activity runs once; its result is journaled and answers
      // every replay
      const reservation = yield* Activity.make({
        name: "reserve",
        success: Schema.String,
        execute: Effect.succeed(
          `reservation of ${amount} for ${orderId}`
        )
      }).pipe(
        // runs if the job fails or is cancelled
        Workflow.withCompensation((reservation) =>
          Console.log(`  compensation: released the ${reservation}`)
        )
      )
      const approved = yield* DurableJob.pause(Refund, "approval")
      if (!approved) return yield* new RefundRefused({ orderId })
      return yield* Activity.make({
        name: "pay",
        success: Schema.String,
        execute: Effect.succeed(`paid the ${reservation}`)
      })
    })
)
