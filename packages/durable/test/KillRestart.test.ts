/**
 * Durability across a crash, with real processes on one SQLite file: the first
 * starts jobs that pause and is killed with SIGKILL; the second signals and
 * resumes them to their end; every activity ran exactly once.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Jobs from "./fixtures/jobs.js"
import { firstLine, spawnChild, waitExit } from "./fixtures/process.js"
import { tempDir } from "./fixtures/tmp.js"

const child = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url))
const N = 4
const ids = Array.from({ length: N }, (_, i) => `c${i}`)

interface StartReport {
  readonly steps: ReadonlyArray<DurableJob.Paused>
  readonly refused: string
  readonly stats: DurableJobPool.PoolStats
}

interface FinishReport {
  readonly polled: ReadonlyArray<DurableJob.JobStatus<unknown, unknown>>
  readonly before: DurableJobPool.PoolStats
  readonly refused: string
  readonly results: ReadonlyArray<DurableJob.Step<{ readonly charged: number; readonly receipt: string }>>
  readonly again: DurableJob.Step<unknown>
  readonly after: DurableJobPool.PoolStats
}

describe("kill and restart on SQLite", () => {
  it.live(
    "jobs paused in a killed process finish in the next one, each activity once",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("kill")
        const db = path.join(dir, "jobs.db")
        const events = path.join(dir, "events.log")
        const args = [db, events]

        // 1. start jobs that pause, then kill the process
        const first = yield* spawnChild(child, [...args, "start", String(N)])
        const started = JSON.parse(yield* firstLine(first)) as StartReport
        deepStrictEqual(started.steps.map((step) => [step._tag, step.tokens.length]), ids.map(() => ["Paused", 1]))
        strictEqual(started.refused, "NoJobsError")
        deepStrictEqual(started.stats, { maxSize: N, created: N, idle: 0, running: 0, paused: N })
        first.kill("SIGKILL")
        deepStrictEqual(yield* waitExit(first), { code: null, signal: "SIGKILL" })

        // 2. a new process on the same file: the jobs are still paused on the same tokens, and still hold the pool
        const second = yield* spawnChild(child, [...args, "finish", String(N)])
        const finished = JSON.parse(yield* firstLine(second)) as FinishReport
        deepStrictEqual(yield* waitExit(second), { code: 0, signal: null })
        deepStrictEqual(finished.polled, started.steps)
        deepStrictEqual(finished.before, { maxSize: N, created: N, idle: 0, running: 0, paused: N })
        strictEqual(finished.refused, "NoJobsError")
        deepStrictEqual(
          finished.results.map((step) => step._tag === "Finished" ? step.value : step._tag),
          ids.map((_, i) => ({ charged: 10, receipt: `receipt-${i}` }))
        )
        deepStrictEqual(finished.again, finished.results[0])
        deepStrictEqual(finished.after, { maxSize: N, created: N, idle: N, running: 0, paused: 0 })

        // 3. every activity ran exactly once, the first ones in the killed process
        const lines = fs.readFileSync(events, "utf8").trim().split("\n").map((line) => line.split(" "))
        const activities = lines.filter(([, event]) => event !== "run")
        const byEvent = (event: string) =>
          activities.filter(([, e]) => e === event).map(([pid, , id]) => [Number(pid), id])
        deepStrictEqual(byEvent("reserve").sort(), ids.map((id) => [first.pid, id]))
        deepStrictEqual(byEvent("capture").sort(), ids.map((id) => [second.pid, id]))
        strictEqual(activities.length, 2 * N)

        // 4. and a third process (this one) reads the results from the file
        const polled = yield* Effect.forEach(finished.results, (step) => DurableJob.poll(Jobs.Charge, step.jobId)).pipe(
          Effect.provide(DurableJobPool.layerSqlite({ filename: db, maxSize: N }))
        )
        deepStrictEqual(polled, [...finished.results])
      }),
    { timeout: 180_000 }
  )
})
