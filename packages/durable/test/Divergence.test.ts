/**
 * Issue 15, item 3: a replay that diverges from the journal in code changed without a version guard. Jobs paused
 * under one deploy are signalled under a deploy whose code changed in one way per job (an activity inserted before a
 * journaled one, a journaled result whose Schema changed, a renamed wait, an activity removed, activities reordered,
 * a wait removed at the end). Each replay stops at the step where it diverges, before anything new runs, and the job
 * is left `diverged`, holding its slot: `start`, `resume` and `poll` answer `JobDivergedError` naming the step,
 * `cancel` ends it and frees its slot, and a deploy of code that replays the journal continues it. Three deploys on
 * one SQLite file, one after the other.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import type { JobDivergedError } from "@async-job/durable/Errors"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Activity from "effect/workflow/Activity"
import * as path from "node:path"
import { tempDir } from "./fixtures/tmp.js"

/** What the changed code changes for a job: the payload picks it, so one deploy holds every case. */
const Change = Schema.Literals(["inserted", "schema", "renamed", "removed", "reordered", "ended"])

const Diverging = DurableJob.make({
  name: "test/Diverging",
  payload: { id: Schema.String, change: Change },
  success: Schema.String,
  waits: { go: Schema.Boolean, proceed: Schema.Boolean },
  jobId: ({ id }) => id
})

const expectPaused = (step: DurableJob.Step<unknown>): Effect.Effect<DurableJob.Paused> =>
  step._tag === "Paused" ? Effect.succeed(step) : Effect.die(`expected Paused, got ${step._tag}`)

/** The fields of a divergence that name the step. */
const named = (error: { readonly _tag: string }) => {
  if (error._tag !== "JobDivergedError") return error._tag
  const { index, recorded, requested, step } = error as JobDivergedError
  return { step, index, recorded, requested }
}

const idOf = (change: typeof Change.Type) => DurableJob.jobId(Diverging, { id: change, change })

describe("divergence from the journal (SQLite)", () => {
  it.live(
    "a replay that diverges in unguarded code is refused by the step; cancel frees its slot; a rollback continues it",
    () =>
      Effect.gen(function*() {
        const filename = path.join(yield* tempDir("diverge"), "jobs.db")
        const events: Array<string> = []
        const activity = (name: string, id: string) =>
          Activity.make({ name, execute: Effect.sync(() => void events.push(`${name} ${id}`)) })
        /** The job's code: the original (`changed` false), or with each job's own change and no version guard. */
        const deploy = (changed: boolean) =>
          Layer.provideMerge(
            DurableJob.toLayer(Diverging, ({ change, id }) =>
              Effect.gen(function*() {
                const edit = changed ? change : undefined
                if (edit === "reordered") yield* activity("notify", id)
                if (edit === "schema") {
                  yield* Activity.make({ name: "reserve", success: Schema.String, execute: Effect.succeed("r") })
                } else {
                  yield* Activity.make({
                    name: "reserve",
                    success: Schema.Number,
                    execute: Effect.sync(() => events.push(`reserve ${id}`))
                  })
                }
                if (edit === "inserted") yield* activity("audit", id)
                if (edit !== "removed" && edit !== "reordered") yield* activity("notify", id)
                if (edit === "ended") return `${id} ended early`
                yield* DurableJob.pause(Diverging, edit === "renamed" ? "proceed" : "go")
                return `${id} finished`
              })),
            DurableJobPool.layerSqlite({ filename, maxSize: 10 })
          )
        const stats = Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats)
        const cases = Change.literals

        // the original code starts one job per case; each journals reserve, notify and the wait on go, and pauses
        const paused = yield* Effect.forEach(
          cases,
          (change) => Effect.flatMap(DurableJob.start(Diverging, { id: change, change }), expectPaused)
        ).pipe(Effect.provide(deploy(false)))
        const ranByOriginal = events.length
        strictEqual(ranByOriginal, cases.length * 2)

        // the changed code: every job is signalled, replays under it, and diverges at its step
        const changed = yield* Effect.gen(function*() {
          for (const job of paused) yield* DurableJob.signal(job.tokens[0]!, true)
          const resumed = yield* Effect.forEach(paused, (job) => Effect.flip(DurableJob.resume(Diverging, job)))
          const polled = yield* Effect.forEach(paused, (job) => Effect.flip(DurableJob.poll(Diverging, job.jobId)))
          const restarted = yield* Effect.flip(DurableJob.start(Diverging, { id: "renamed", change: "renamed" }))
          const held = yield* stats
          const listed = yield* Effect.flatMap(DurableJobPool.DurableJobPool, (pool) =>
            pool.list({ states: ["diverged"] }))
          // a new job runs the changed code from its start: nothing to diverge from
          const fresh = yield* Effect.flatMap(
            DurableJob.start(Diverging, { id: "fresh", change: "inserted" }),
            expectPaused
          )
          const cancelled = yield* Effect.forEach(
            ["inserted", "reordered"] as const,
            (change) =>
              Effect.flatMap(idOf(change), (id) => DurableJob.cancel(Diverging, id))
          )
          return { resumed, polled, restarted, held, listed, fresh, cancelled, left: yield* stats }
        }).pipe(Effect.provide(deploy(true)))

        const step = (kind: "activity" | "wait", name: string) => ({ kind, name })
        deepStrictEqual(changed.resumed.map(named), [
          {
            step: "step 1 (activity \"notify\")",
            index: 1,
            recorded: step("activity", "notify"),
            requested: step("activity", "audit")
          },
          {
            step: "step 0 (activity \"reserve\")",
            index: 0,
            recorded: step("activity", "reserve"),
            requested: step("activity", "reserve")
          },
          {
            step: "step 2 (wait \"go\")",
            index: 2,
            recorded: step("wait", "go"),
            requested: step("wait", "proceed")
          },
          {
            step: "step 1 (activity \"notify\")",
            index: 1,
            recorded: step("activity", "notify"),
            requested: step("wait", "go")
          },
          {
            step: "step 0 (activity \"reserve\")",
            index: 0,
            recorded: step("activity", "reserve"),
            requested: step("activity", "notify")
          },
          { step: "step 2 (wait \"go\")", index: 2, recorded: step("wait", "go"), requested: undefined }
        ])
        deepStrictEqual(changed.polled.map(named), changed.resumed.map(named))
        deepStrictEqual(
          changed.resumed.map((error) => error._tag === "JobDivergedError" && error.jobId),
          paused.map((job) => job.jobId)
        )
        deepStrictEqual(named(changed.restarted), changed.resumed.map(named)[2])
        const schema = changed.resumed[1]!
        assertTrue(
          schema._tag === "JobDivergedError" &&
            schema.reason.startsWith("its journaled result does not decode with the code's Schema"),
          schema.message
        )
        strictEqual(
          changed.resumed[2]!.message,
          `job ${paused[2]!.jobId} diverges from its journal at step 2 (wait "go"): ` +
            `the journal records wait "go" there; the code asks for wait "proceed"`
        )
        // nothing past a divergence ran: no inserted audit, no activity run again
        deepStrictEqual(events.slice(ranByOriginal), ["reserve fresh", "audit fresh", "notify fresh"])
        // diverged jobs hold their slots, are listed as diverged, and cancel frees them
        strictEqual(changed.held.paused, cases.length)
        strictEqual(changed.held.running, 0)
        deepStrictEqual(changed.listed.jobs.map((job) => job.jobId), paused.map((job) => job.jobId))
        strictEqual(changed.fresh.tokens.length, 1)
        deepStrictEqual(changed.cancelled.map((status) => status._tag), ["Cancelled", "Cancelled"])
        strictEqual(changed.left.paused, cases.length - 2 + 1)
        strictEqual(changed.left.running, 0)

        // rolling the code back: the deploy runs the diverged jobs again, which replay as journaled and finish
        const ranBefore = events.length
        const rolledBack = yield* Effect.gen(function*() {
          const finished = yield* Effect.forEach(
            ["schema", "renamed", "removed", "ended"] as const,
            (change) => Effect.flatMap(idOf(change), (id) => DurableJob.resume(Diverging, id))
          )
          const cancelled = yield* DurableJob.poll(Diverging, yield* idOf("inserted"))
          return { finished, cancelled, left: yield* stats }
        }).pipe(Effect.provide(deploy(false)))
        deepStrictEqual(rolledBack.finished.map((step) => step._tag === "Finished" ? step.value : step._tag), [
          "schema finished",
          "renamed finished",
          "removed finished",
          "ended finished"
        ])
        strictEqual(rolledBack.cancelled._tag, "Cancelled")
        // only the fresh job is still outstanding, and nothing journaled ran again
        strictEqual(rolledBack.left.paused, 1)
        strictEqual(rolledBack.left.running, 0)
        strictEqual(events.length, ranBefore)
      }),
    { timeout: 120_000 }
  )
})

describe("divergence from the journal (memory)", () => {
  it.live("the in-memory ledger journals steps too: a changed body diverges, holds its slot until cancelled", () =>
    Effect.gen(function*() {
      // the code is swapped between the job's runs in one process, as a deploy would swap it
      let changed = false
      const ran: Array<string> = []
      const layer = Layer.provideMerge(
        DurableJob.toLayer(Diverging, ({ id }) =>
          Effect.gen(function*() {
            if (changed) yield* Activity.make({ name: "audit", execute: Effect.sync(() => void ran.push("audit")) })
            yield* DurableJob.pause(Diverging, "go")
            return `${id} finished`
          })),
        DurableJobPool.layerMemory({ maxSize: 1 })
      )
      const outstanding = Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.outstandingIds)
      const [error, full, cancelled, after] = yield* Effect.gen(function*() {
        const job = yield* Effect.flatMap(DurableJob.start(Diverging, { id: "m", change: "inserted" }), expectPaused)
        changed = true
        yield* DurableJob.signal(job.tokens[0]!, true)
        const error = yield* Effect.flip(DurableJob.resume(Diverging, job))
        // its slot is held: the pool of one is full
        const full = yield* Effect.flip(DurableJob.start(Diverging, { id: "n", change: "inserted" }))
        const cancelled = yield* DurableJob.cancel(Diverging, job.jobId)
        return [error, full._tag, cancelled._tag, yield* outstanding] as const
      }).pipe(Effect.provide(layer))
      deepStrictEqual(named(error), {
        step: "step 0 (wait \"go\")",
        index: 0,
        recorded: { kind: "wait", name: "go" },
        requested: { kind: "activity", name: "audit" }
      })
      strictEqual(full, "NoJobsError")
      strictEqual(cancelled, "Cancelled")
      deepStrictEqual(after, [])
      deepStrictEqual(ran, [])
    }))

  it.live("steps in DurableJob.unchecked may change from run to run: they are neither checked nor journaled", () =>
    Effect.gen(function*() {
      let boot = "first"
      const ran: Array<string> = []
      const layer = Layer.provideMerge(
        DurableJob.toLayer(Diverging, ({ id }) =>
          Effect.gen(function*() {
            // named after the process, as the offload service names its submit
            yield* DurableJob.unchecked(
              Activity.make({ name: `submit/${boot}`, execute: Effect.sync(() => void ran.push(`submit/${boot}`)) })
            )
            yield* DurableJob.pause(Diverging, "go")
            return `${id} finished`
          })),
        DurableJobPool.layerMemory({ maxSize: 1 })
      )
      const finished = yield* Effect.gen(function*() {
        const job = yield* Effect.flatMap(DurableJob.start(Diverging, { id: "u", change: "renamed" }), expectPaused)
        boot = "second"
        yield* DurableJob.signal(job.tokens[0]!, true)
        return yield* DurableJob.resume(Diverging, job)
      }).pipe(Effect.provide(layer))
      strictEqual(finished._tag === "Finished" && finished.value, "u finished")
      deepStrictEqual(ran, ["submit/first", "submit/second"])
    }))
})
