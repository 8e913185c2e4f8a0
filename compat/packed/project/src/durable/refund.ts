/**
 * A durable refund on SQLite: it pauses until someone approves it, then pays. The definition and its body, for the
 * two processes of this example.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Effect, Layer, Schema } from "effect"
import * as Activity from "effect/workflow/Activity"
import * as path from "node:path"

export const Refund = DurableJob.make({
  name: "Refund",
  payload: { orderId: Schema.String, amount: Schema.Number },
  success: Schema.String,
  waits: { approval: Schema.Boolean },
  jobId: ({ orderId }) => `refund-${orderId}`
})

const RefundLive = DurableJob.toLayer(Refund, ({ amount, orderId }) =>
  Effect.gen(function*() {
    if (!(yield* DurableJob.pause(Refund, "approval"))) return "refused"
    return yield* Activity.make({
      name: "pay",
      success: Schema.String,
      execute: Effect.succeed(`paid ${amount} for ${orderId}`)
    })
  }))

/** The engine, the pool and the refund's body, on the SQLite file of `dir`. */
export const durable = (dir: string) =>
  RefundLive.pipe(
    Layer.provideMerge(DurableJobPool.layerSqlite({ filename: path.join(dir, "jobs.db"), maxSize: 4 }))
  )
