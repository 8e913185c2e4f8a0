/**
 * Issue 15, item 3: versioning. A job records the version of its code when it starts; the body branches on
 * `DurableJob.version` (like Temporal's `getVersion`), so a job paused under old code and resumed under new code
 * replays as it was journaled, in the three cases of the issue: version 2 inserts an activity, changes the Schema
 * of a journaled result, and renames the wait the job pauses on. A job whose version the code no longer runs is
 * refused with a typed error naming the step, and left where it was. Three deploys on one SQLite file, one after
 * the other.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Activity from "effect/workflow/Activity"
import * as path from "node:path"
import { tempDir } from "./fixtures/tmp.js"

/** The same job kind under three versions of its code. */
const definition = (version: number, minVersion = 1) =>
  DurableJob.make({
    name: "test/Versioned",
    payload: { id: Schema.String },
    success: Schema.String,
    waits: { go: Schema.Boolean, proceed: Schema.Boolean },
    jobId: ({ id }) => id,
    version,
    minVersion
  })

describe("versioning (SQLite)", () => {
  it.live(
    "new code replays old jobs as journaled, and refuses the versions it no longer runs",
    () =>
      Effect.gen(function*() {
        const filename = path.join(yield* tempDir("versions"), "jobs.db")
        const events: Array<string> = []
        const deploy = (job: ReturnType<typeof definition>) =>
          Layer.provideMerge(
            DurableJob.toLayer(job, ({ id }) =>
              Effect.gen(function*() {
                const version = yield* DurableJob.version(job)
                // version 2 changes the Schema of a journaled result: under a new step name, for new jobs only
                const reserved = version >= 2
                  ? yield* Activity.make({
                    name: "reserve-v2",
                    success: Schema.String,
                    execute: Effect.sync(() => String(events.push(`reserve ${id}`)))
                  })
                  : yield* Activity.make({
                    name: "reserve",
                    success: Schema.Number,
                    execute: Effect.sync(() => events.push(`reserve ${id}`))
                  })
                // version 2 inserts an activity before the pause: jobs started under version 1 must not run it
                if (version >= 2) {
                  yield* Activity.make({ name: "audit", execute: Effect.sync(() => events.push(`audit ${id}`)) })
                }
                // version 2 renames the wait: a job started under version 1 still waits where it paused
                yield* DurableJob.pause(job, version >= 2 ? "proceed" : "go")
                return `${id} finished under code ${job.version}, started under ${version}, reserved a ${typeof reserved}`
              })),
            DurableJobPool.layerSqlite({ filename })
          )

        // version 1 starts two jobs, which pause
        const v1 = definition(1)
        const [old, stranded] = yield* Effect.all([
          DurableJob.start(v1, { id: "old" }),
          DurableJob.start(v1, { id: "stranded" })
        ]).pipe(Effect.provide(deploy(v1)))

        // version 2 finishes the old job as version 1 journaled it, and runs the new step for a new job
        const v2 = definition(2)
        const [finishedOld, fresh] = yield* Effect.gen(function*() {
          if (old._tag !== "Paused") return yield* Effect.die("expected Paused")
          yield* DurableJob.signal(old.tokens[0]!, true)
          return [yield* DurableJob.resume(v2, old), yield* DurableJob.start(v2, { id: "new" })] as const
        }).pipe(Effect.provide(deploy(v2)))
        strictEqual(
          finishedOld._tag === "Finished" && finishedOld.value,
          "old finished under code 2, started under 1, reserved a number"
        )
        strictEqual(fresh._tag, "Paused")
        // the new job waits on the renamed wait fd
        const [, , wait] = JSON.parse(
          Buffer.from(fresh._tag === "Paused" ? fresh.tokens[0]!.split(".")[0]! : "", "base64url").toString()
        ) as [string, string, string]
        strictEqual(wait, "proceed")
        deepStrictEqual(events.filter((e) => e.startsWith("audit")), ["audit new"])

        // version 3 no longer runs version 1: the stranded job is refused by name of the step, and can be cancelled
        const v3 = definition(3, 2)
        const [refused, resumed, cancelled, stillRuns] = yield* Effect.gen(function*() {
          if (stranded._tag !== "Paused") return yield* Effect.die("expected Paused")
          return [
            yield* Effect.flip(DurableJob.poll(v3, stranded.jobId)),
            yield* Effect.flip(DurableJob.resume(v3, stranded)),
            yield* DurableJob.cancel(v3, stranded.jobId),
            yield* DurableJob.poll(v3, yield* DurableJob.jobId(v3, { id: "new" }))
          ] as const
        }).pipe(Effect.provide(deploy(v3)))
        for (const error of [refused, resumed]) {
          strictEqual(error._tag, "JobDivergedError")
          if (error._tag === "JobDivergedError") strictEqual(error.step, "version")
        }
        strictEqual(cancelled._tag, "Cancelled")
        strictEqual(stillRuns._tag, "Paused")
        // the refused job ran nothing under version 3
        deepStrictEqual(events.filter((e) => e.endsWith("stranded")), ["reserve stranded"])
      }),
    { timeout: 120_000 }
  )

  it.live(
    "issue 25, item 7: jobs of a version retired by minVersion are listed as diverged, not paused",
    () =>
      Effect.gen(function*() {
        const filename = path.join(yield* tempDir("retired"), "jobs.db")
        const deploy = (job: ReturnType<typeof definition>) =>
          Layer.provideMerge(
            DurableJob.toLayer(job, () => Effect.as(DurableJob.pause(job, "go"), "done")),
            DurableJobPool.layerSqlite({ filename })
          )
        const v1 = definition(1)
        const old = yield* DurableJob.start(v1, { id: "old" }).pipe(Effect.provide(deploy(v1)))
        strictEqual(old._tag, "Paused")
        // version 2 retires version 1: the old job is diverged, and listed so; a new job is paused
        const v2 = definition(2, 2)
        const [diverged, paused, all, polled, stats] = yield* Effect.gen(function*() {
          const pool = yield* DurableJobPool.DurableJobPool
          yield* DurableJob.start(v2, { id: "new" })
          return [
            yield* pool.list({ states: ["diverged"] }),
            yield* pool.list({ states: ["paused"] }),
            yield* pool.list(),
            yield* Effect.flip(DurableJob.poll(v2, old.jobId)),
            yield* pool.stats
          ] as const
        }).pipe(Effect.provide(deploy(v2)))
        deepStrictEqual(diverged.jobs.map((job) => job.jobId), [old.jobId])
        deepStrictEqual(paused.jobs.map((job) => job.seq), [2])
        deepStrictEqual(all.jobs.map((job) => job.state), ["diverged", "paused"])
        strictEqual(polled._tag === "JobDivergedError" && polled.step, "version")
        // a diverged job still holds its slot
        deepStrictEqual(stats, { maxSize: 0, created: 2, idle: 0, running: 0, paused: 2 })
        // code that runs version 1 again continues it where it paused
        const v2again = definition(2)
        const finished = yield* Effect.gen(function*() {
          const pool = yield* DurableJobPool.DurableJobPool
          const status = yield* DurableJob.poll(v2again, old.jobId).pipe(
            Effect.repeat({ until: (status) => status._tag === "Paused" && status.tokens.length === 1 }),
            Effect.timeout("30 seconds")
          )
          if (status._tag !== "Paused") return yield* Effect.die("expected Paused")
          yield* DurableJob.signal(status.tokens[0]!, true)
          return [yield* DurableJob.resume(v2again, status), yield* pool.list({ states: ["diverged"] })] as const
        }).pipe(Effect.provide(deploy(v2again)))
        strictEqual(finished[0]._tag === "Finished" && finished[0].value, "done")
        deepStrictEqual(finished[1].jobs, [])
      }),
    { timeout: 120_000 }
  )
})
