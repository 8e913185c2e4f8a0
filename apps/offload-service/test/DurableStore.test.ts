/**
 * Durable mode keeps what it must, once (issue 24, item 8), on a fresh SQLite
 * file per test and the ManualEngine (jobs stay paused until a test answers
 * them): a job's input is stored once; ended jobs are forgotten past
 * `RESULT_MAX` and `RESULT_TTL`, in the job table and the engine's messages
 * alike; a job this version of the service cannot replay answers `GET` with a
 * typed 409 `JobDiverged`, `DELETE` too, and `DELETE ?discard=true` cancels it.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Sqlite from "node:sqlite"
import * as ServiceConfig from "../src/config.js"
import { EngineError } from "../src/engine/EngineError.js"
import * as Operation from "../src/engine/Operation.js"
import * as Server from "../src/http/server.js"
import * as DurableJobs from "../src/jobs/durable.js"
import * as Jobs from "../src/jobs/Jobs.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { call, pollUntil } from "./utils/http.js"

/** A SQLite file in a temporary directory removed when the scope closes. */
const tempFile = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "offload-store-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  ),
  (dir) => Path.join(dir, "jobs.db")
)

/** What the file holds: each ledger row's payload, and the bytes of the engine's messages by job. */
const onDisk = (filename: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Sqlite.DatabaseSync(filename, { readOnly: true })),
    (db) =>
      Effect.sync(() => ({
        ledger: db.prepare("SELECT payload FROM async_job_durable_jobs ORDER BY seq").all()
          .map((row) => String(row.payload)),
        messages: db.prepare("SELECT entity_id, sum(length(payload)) AS bytes FROM cluster_messages GROUP BY entity_id")
          .all().map((row) => Number(row.bytes))
      })),
    (db) => Effect.sync(() => db.close())
  )

/** The service's durable jobs on `filename`, on the ManualEngine. */
const durableJobs = (filename: string, config: Partial<ServiceConfig.ServiceConfig>) =>
  DurableJobs.layerSqlite(filename).pipe(
    Layer.provideMerge(ManualEngine.layer),
    Layer.provide(ServiceConfig.layer({ poolMax: 8, shutdownGrace: Duration.zero, ...config }))
  )

const pendingIds = (n: number) =>
  Effect.flatMap(
    ManualEngine.ManualEngine,
    (engine) => pollUntil(Effect.sync(() => engine.pendingIds()), (ids) => ids.length === n)
  )

const data = "x".repeat(50_000)

describe("durable mode keeps what it must, once", () => {
  // The runner holds its SQLite file exclusively while it runs (a second process is refused), so the
  // file is read once the service's layer has closed.
  it.live("a job's input is stored once, in the message that starts its workflow; the ledger's row carries none", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        for (let i = 0; i < 3; i++) yield* jobs.submit({ op: "sha256", data: `${i}${data}` })
        yield* pendingIds(3)
      }).pipe(Effect.provide(durableJobs(filename, {})))
      // the three jobs are still outstanding on disk
      const paused = yield* onDisk(filename)
      deepStrictEqual(paused.ledger, ["null", "null", "null"])
      strictEqual(paused.messages.length, 3)
      for (const bytes of paused.messages) assertTrue(bytes > data.length && bytes < 2 * data.length, `${bytes}`)
    }).pipe(Effect.scoped))

  it.live("ended jobs past RESULT_MAX are forgotten, in the engine's messages too", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const ids = yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const engine = yield* ManualEngine.ManualEngine
        const ids: Array<string> = []
        for (let i = 0; i < 3; i++) ids.push((yield* jobs.submit({ op: "sha256", data: `${i}${data}` })).id)
        for (const id of yield* pendingIds(3)) yield* engine.release(id)
        // the first two to end are forgotten (the sweep runs every second): 404
        yield* pollUntil(
          Effect.map(Effect.exit(jobs.get(ids[1]!)), (exit) => exit._tag === "Failure"),
          (gone) => gone
        )
        strictEqual((yield* jobs.get(ids[2]!)).state, "finished")
        strictEqual((yield* jobs.housekeeping).retained, 1)
        return ids
      }).pipe(Effect.provide(durableJobs(filename, { resultMax: 1 })))
      const ended = yield* onDisk(filename)
      strictEqual(ended.ledger.length, 1)
      // the engine's messages of the forgotten jobs are gone: one job's input is left on disk
      strictEqual(ended.messages.length, 1)
      assertTrue(ended.messages[0]! < 2 * data.length)
      strictEqual(ids.length, 3)
    }).pipe(Effect.scoped))

  it.live("ended jobs are forgotten once RESULT_TTL has passed, outstanding ones never", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const engine = yield* ManualEngine.ManualEngine
        const ended = yield* jobs.submit({ op: "sha256", data: "a" })
        const [first] = yield* pendingIds(1)
        yield* engine.release(first!)
        const waiting = yield* jobs.submit({ op: "sha256", data: "b" })
        const gone = yield* pollUntil(
          Effect.match(jobs.get(ended.id), { onFailure: (error) => error._tag, onSuccess: (view) => view.state }),
          (state) => state !== "finished"
        )
        strictEqual(gone, "JobNotFoundError")
        strictEqual((yield* jobs.get(waiting.id)).state, "paused")
      }).pipe(Effect.provide(durableJobs(filename, { resultTtl: Duration.millis(200) })))
    }).pipe(Effect.scoped))
})

/** The service's durable job as a later version of the service would define it: version 2. */
const OffloadV2 = DurableJob.make({
  name: "offload-service/Offload",
  payload: { id: Schema.String, request: Schema.Unknown },
  success: Operation.Result,
  error: EngineError,
  waits: { engine: Schema.Result(Operation.Result, EngineError) },
  jobId: ({ id }) => id,
  version: 2
})

describe("a job this version cannot replay", () => {
  it.live(
    "GET and DELETE answer 409 JobDiverged (not 500); DELETE ?discard=true cancels it, and its slot is free",
    () =>
      Effect.gen(function*() {
        const filename = yield* tempFile
        const id = `sha256.${Crypto.randomUUID()}`
        // a later version of the service started the job, which paused on its engine
        const step = yield* DurableJob.start(OffloadV2, { id, request: { op: "sha256", data: "x" } }).pipe(
          Effect.provide(
            DurableJob.toLayer(
              OffloadV2,
              () => Effect.flatMap(DurableJob.pause(OffloadV2, "engine"), Effect.fromResult)
            ).pipe(
              Layer.provideMerge(DurableJobPool.layerSqlite({ filename, name: "offload-service" }))
            )
          )
        )
        strictEqual(step._tag, "Paused")
        // this version's service on the same file
        const [got, refused, held, cancelled, after, stats] = yield* Effect.gen(function*() {
          const url = yield* Server.url
          const got = yield* call(url, "GET", `/jobs/${id}`)
          const refused = yield* call(url, "DELETE", `/jobs/${id}`)
          const held = yield* call(url, "GET", "/stats")
          const cancelled = yield* call(url, "DELETE", `/jobs/${id}?discard=true`)
          const after = yield* call(url, "GET", `/jobs/${id}`)
          const stats = yield* call(url, "GET", "/stats")
          return [got, refused, held, cancelled, after, stats] as const
        }).pipe(
          Effect.provide(
            Server.layer.pipe(
              Layer.provide(ManualEngine.layer),
              Layer.provide(
                ServiceConfig.layer({ port: 0, durable: `sqlite:${filename}`, shutdownGrace: Duration.zero })
              )
            )
          )
        )
        deepStrictEqual([got.status, got.body.error.tag], [409, "JobDiverged"])
        assertTrue(got.body.error.message.length <= 200)
        deepStrictEqual([refused.status, refused.body.error.tag], [409, "JobDiverged"])
        assertTrue(refused.body.error.message.includes("?discard=true"), refused.body.error.message)
        // refused, the job still holds its slot
        strictEqual(held.body.running + held.body.paused, 1)
        deepStrictEqual([cancelled.status, cancelled.body], [200, { id, state: "cancelled" }])
        deepStrictEqual([after.status, after.body.state], [200, "cancelled"])
        deepStrictEqual([stats.body.running, stats.body.paused], [0, 0])
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
