/**
 * Issue 25, item 6: the keys of resume tokens can be set and changed without stranding paused jobs.
 * `ASYNC_JOB_DURABLE_SECRET` is a list of keys: the first signs, any verifies (and the store's own key, which signed
 * before any was set); tokens are answered signed by the key that signs now; a runner whose keys share none with
 * those of the store's runners is refused when it opens the store. Successive deploys on one SQLite file.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Crypto from "node:crypto"
import * as path from "node:path"
import * as Jobs from "./fixtures/jobs.js"
import { tempDir } from "./fixtures/tmp.js"

const expectPaused = (step: DurableJob.Step<unknown> | DurableJob.JobStatus<unknown, unknown>): DurableJob.Paused => {
  if (step._tag !== "Paused") throw new Error(`expected Paused, got ${JSON.stringify(step)}`)
  return step
}

/** A token signed by another key: same body, another signature. */
const signature = (token: string) => token.split(".")[1]

describe("resume token keys (SQLite)", () => {
  it.live("a key set, rotated and retired strands no paused job; a runner with a foreign key is refused", () =>
    Effect.gen(function*() {
      const filename = path.join(yield* tempDir("keys"), "jobs.db")
      /** A runner on the store with `ASYNC_JOB_DURABLE_SECRET` set to `secret` (unset if undefined). */
      const deploy = (secret: string | undefined) =>
        Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ filename })).pipe(
          Layer.provide(
            ConfigProvider.layer(
              ConfigProvider.fromUnknown(secret === undefined ? {} : { ASYNC_JOB_DURABLE_SECRET: secret })
            )
          )
        )

      // no key set: the store's own key signs
      const a = expectPaused(
        yield* DurableJob.start(Jobs.Charge, { id: "a", amount: 1 }).pipe(Effect.provide(deploy(undefined)))
      )

      // a key is set: the tokens handed out before it still work, and new ones are signed by it
      const [polledA, a2] = yield* Effect.gen(function*() {
        const polled = expectPaused(yield* DurableJob.poll(Jobs.Charge, a.jobId))
        yield* DurableJob.signal(a.tokens[0]!, true)
        return [polled, expectPaused(yield* DurableJob.resume(Jobs.Charge, a))] as const
      }).pipe(Effect.provide(deploy("k1")))
      assertTrue(signature(polledA.tokens[0]!) !== signature(a.tokens[0]!))

      // rotation: k2 signs, k1 still verifies; the job's tokens are answered signed by k2
      const [polledA2, b] = yield* Effect.gen(function*() {
        const polled = expectPaused(yield* DurableJob.poll(Jobs.Charge, a2.jobId))
        return [polled, expectPaused(yield* DurableJob.start(Jobs.Charge, { id: "b", amount: 2 }))] as const
      }).pipe(Effect.provide(deploy("k2, k1")))
      assertTrue(signature(polledA2.tokens[0]!) !== signature(a2.tokens[0]!))

      // k1 retired: its tokens are refused, but a poll answers the job's tokens signed by k2, and they work
      const [refused, finishedA, finishedB] = yield* Effect.gen(function*() {
        const refused = yield* Effect.flip(DurableJob.signal(a2.tokens[0]!, "r-a"))
        yield* DurableJob.signal(expectPaused(yield* DurableJob.poll(Jobs.Charge, a2.jobId)).tokens[0]!, "r-a")
        const finishedA = yield* DurableJob.resume(Jobs.Charge, a2)
        yield* DurableJob.signal(b.tokens[0]!, true)
        const b2 = expectPaused(yield* DurableJob.resume(Jobs.Charge, b))
        yield* DurableJob.signal(b2.tokens[0]!, "r-b")
        return [refused, finishedA, yield* DurableJob.resume(Jobs.Charge, b2)] as const
      }).pipe(Effect.provide(deploy("k2")))
      strictEqual(refused._tag, "InvalidTokenError")
      deepStrictEqual(finishedA, { _tag: "Finished", jobId: a.jobId, value: { charged: 1, receipt: "r-a" } })
      strictEqual(finishedB._tag, "Finished")

      // a runner whose keys share none with the store's runners, or that has none, is refused as it opens the store
      for (const secret of ["k3", undefined]) {
        const error = yield* Effect.flip(
          Effect.provide(Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats), deploy(secret))
        )
        strictEqual(error._tag === "StoreError" && error.reason, "key")
      }
      // a forged token (signed by a key the store does not know) is refused
      const c = expectPaused(
        yield* DurableJob.start(Jobs.Charge, { id: "c", amount: 3 }).pipe(Effect.provide(deploy("k2")))
      )
      const body = c.tokens[0]!.split(".")[0]!
      const forgedToken = `${body}.${Crypto.createHmac("sha256", "k4").update(body).digest("base64url")}`
      const forged = yield* Effect.flip(DurableJob.signal(forgedToken, true)).pipe(Effect.provide(deploy("k2")))
      strictEqual(forged._tag, "InvalidTokenError")
    }))
})
