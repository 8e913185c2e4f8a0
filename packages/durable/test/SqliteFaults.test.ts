/**
 * Issue 25, item 5: the faults of a SQLite store are typed `StoreError`s with their reason, never defects, and
 * nothing hangs: a full disk, a read-only directory, a store file deleted between runs, a second process on the
 * file.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Jobs from "./fixtures/jobs.js"
import { firstLine, spawnChild, spawnCommand, waitExit } from "./fixtures/process.js"
import { makeReadOnlyDir, tempDir } from "./fixtures/tmp.js"

const child = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url))
const fullChild = fileURLToPath(new URL("./fixtures/sqliteFull.ts", import.meta.url))

const store = (filename: string, options?: Omit<DurableJobPool.SqliteOptions, "filename">) =>
  Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ filename, ...options }))

const stats = Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats)

/** The reason of a StoreError, or the tag of another error. */
const reason = (error: { readonly _tag: string; readonly reason?: string }) =>
  error._tag === "StoreError" ? error.reason : error._tag

/** Fails the test with `message` unless `effect` completes within `duration`. */
const within = <A, E, R>(duration: `${number} seconds`, message: string) => (effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, { duration, orElse: () => Effect.die(new Error(`not within ${duration}: ${message}`)) })

describe("SQLite store faults", () => {
  it.live("a read-only directory with a writable file is refused as read-only when the layer builds", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("ro-dir")
      const filename = path.join(dir, "jobs.db")
      yield* DurableJob.start(Jobs.Echo, { id: "e", text: "" }).pipe(Effect.provide(store(filename)))
      yield* makeReadOnlyDir(dir)
      fs.accessSync(filename, fs.constants.W_OK) // the file itself can be written
      const error = yield* Effect.flip(Effect.provide(stats, store(filename)))
      strictEqual(reason(error), "read-only")
    }))

  it.live("a store file deleted between runs is refused, not recreated empty; create: true makes a new one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("vanished")
      const filename = path.join(dir, "jobs.db")
      const paused = yield* DurableJob.start(Jobs.Charge, { id: "v", amount: 1 }).pipe(
        Effect.provide(store(filename))
      )
      strictEqual(paused._tag, "Paused")
      for (const file of fs.readdirSync(dir).filter((name) => /^jobs\.db(-wal|-shm|-journal)?$/.test(name))) {
        fs.rmSync(path.join(dir, file))
      }
      // the next run is refused: the store that was there is gone
      const refused = yield* Effect.flip(Effect.provide(stats, store(filename)))
      strictEqual(reason(refused), "missing")
      strictEqual(fs.existsSync(filename), false)
      // asked to, it makes a new, empty store, in which the old job is unknown
      const [fresh, lookup] = yield* Effect.all([stats, Effect.flip(DurableJob.poll(Jobs.Charge, paused.jobId))]).pipe(
        Effect.provide(store(filename, { create: true }))
      )
      deepStrictEqual(fresh, { maxSize: 0, created: 0, idle: 0, running: 0, paused: 0 })
      strictEqual(lookup._tag, "JobNotFoundError")
      // and that store opens again without asking
      deepStrictEqual(yield* Effect.provide(stats, store(filename)), fresh)
    }))

  it.live(
    "a second process on the file is refused when it opens it (in-use); nothing hangs; the first goes on",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("two")
        const db = path.join(dir, "jobs.db")
        const args = [db, path.join(dir, "events.log")]
        // the first process starts a job that pauses, and keeps the store open
        const first = yield* spawnChild(child, [...args, "start", "1"])
        const started = JSON.parse(yield* firstLine(first)) as { readonly steps: ReadonlyArray<DurableJob.Paused> }
        strictEqual(started.steps[0]!._tag, "Paused")
        // this process is refused, at once, and every operation too
        const refused = yield* Effect.flip(
          Effect.provide(DurableJob.cancel(Jobs.Charge, started.steps[0]!.jobId), store(db))
        ).pipe(within("30 seconds", "the second process is refused"))
        strictEqual(reason(refused), "in-use")
        // once the first process is gone, the file is this one's: the job waits where it paused
        first.kill("SIGKILL")
        yield* waitExit(first)
        const [polled, cancelled] = yield* Effect.all([
          DurableJob.poll(Jobs.Charge, started.steps[0]!.jobId),
          DurableJob.cancel(Jobs.Charge, started.steps[0]!.jobId)
        ]).pipe(Effect.provide(store(db)), within("60 seconds", "the store opens after the first process"))
        deepStrictEqual(polled, started.steps[0])
        strictEqual(cancelled._tag, "Cancelled")
      }),
    { timeout: 120_000 }
  )

  it.live(
    "a full disk answers StoreError (full), never a defect; once space is freed the store goes on",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("full")
        // a 4 MB file system of the child's own (a tmpfs in a mount namespace of its own, also without root)
        const run = yield* spawnCommand("unshare", [
          "--mount",
          "--map-root-user",
          "--propagation",
          "private",
          "sh",
          "-c",
          "mount -t tmpfs -o size=4m tmpfs \"$1\" && exec \"$2\" --import tsx \"$3\" \"$1\"",
          "sh",
          dir,
          process.execPath,
          fullChild
        ])
        const report = JSON.parse(yield* firstLine(run).pipe(within("120 seconds", "the child reports"))) as {
          readonly warm: string
          readonly failure: { readonly tag: string; readonly reason?: string } | undefined
          readonly after: ReadonlyArray<string>
          readonly stats: DurableJobPool.PoolStats
        }
        strictEqual(report.warm, "Finished")
        deepStrictEqual(report.failure, { tag: "StoreError", reason: "full" })
        // every start tried again after the space was freed finishes (a start that failed left nothing half done)
        deepStrictEqual(report.after, report.after.map(() => "Finished"))
        const n = report.after.length + 1
        deepStrictEqual(report.stats, { maxSize: 0, created: n, idle: n, running: 0, paused: 0 })
      }),
    { timeout: 180_000 }
  )
})
