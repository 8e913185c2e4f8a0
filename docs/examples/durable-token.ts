/**
 * Handing out a resume token from inside the job: the job asks for
 * its wait fd's token with `DurableJob.token`, sends it to whoever
 * decides (here: an outbox array standing in for an email), then
 * pauses. Whoever holds the token signals it; a token that was not
 * signed by the store is refused.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { Console, Effect, Layer, Schema } from "effect"
import * as Activity from "effect/workflow/Activity"

const Review = DurableJob.make({
  name: "Review",
  payload: { document: Schema.String, reviewer: Schema.String },
  success: Schema.String,
  waits: { decision: Schema.Literals(["approve", "reject"]) },
  jobId: ({ document }) => document
})

/** The messages sent so far: to whom, and the link in them. */
const outbox: Array<
  { readonly to: string; readonly link: string }
> = []

const ReviewLive = DurableJob.toLayer(
  Review,
  ({ document, reviewer }) =>
    Effect.gen(function*() {
      const token = yield* DurableJob.token(Review, "decision")
      // in an activity: the message goes out once, not again on
      // each replay of the body
      yield* Activity.make({
        name: "ask",
        execute: Effect.sync(() =>
          outbox.push({
            to: reviewer,
            link: `https://example.com/review?token=${token}`
          })
        )
      })
      const decision = yield* DurableJob.pause(Review, "decision")
      return `${document}: ${decision}`
    })
)

const program = Effect.gen(function*() {
  const step = yield* DurableJob.start(Review, {
    document: "spec-7",
    reviewer: "ada@example.com"
  })
  if (step._tag !== "Paused") return
  yield* Console.log(
    `start: ${step._tag}; messages sent: ${outbox.length}, to ${
      outbox[0]!.to
    }`
  )

  // what the reviewer's click delivers: the token from the link
  const token = new URL(outbox[0]!.link).searchParams.get("token")!
  yield* Console.log(
    `the link's token is the one Paused carries: ${
      token === step.tokens[0]
    }`
  )

  // a token is a capability: a forged or edited one is refused, and
  // the job keeps waiting
  const forged = yield* Effect.flip(
    DurableJob.signal(`${token}x`, "approve")
  )
  yield* Console.log(`signal with an edited token: ${forged._tag}`)

  yield* DurableJob.signal(token, "reject")
  // the first signal of a token wins: a second one changes nothing
  yield* DurableJob.signal(token, "approve")
  const done = yield* DurableJob.resume(Review, step)
  yield* Console.log(
    `resume: ${done._tag}${
      done._tag === "Finished" ? `: ${done.value}` : ""
    }`
  )
  yield* Console.log(`messages sent: ${outbox.length}`)
})

Effect.runPromise(
  program.pipe(
    Effect.provide(
      ReviewLive.pipe(
        Layer.provideMerge(DurableJobPool.layerMemory())
      )
    )
  )
)
