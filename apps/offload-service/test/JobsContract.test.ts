/**
 * The one `Jobs` contract (test/fixtures/jobsContract.ts) run against every
 * layer of the service's `Jobs`: in memory over core's pool, and durable over
 * the in-memory durable pool and over a fresh SQLite file per test.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as DurableJobs from "../src/jobs/durable.js"
import * as Memory from "../src/jobs/memory.js"
import { testJobsContract } from "./fixtures/jobsContract.js"

/** A temporary directory removed when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "offload-contract-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const inMemory = { shutdownCancels: true, dropsEngineRequest: true }
const durable = { shutdownCancels: false, dropsEngineRequest: false }

testJobsContract("in memory (Memory.layerConfig)", { ...inMemory, layer: Memory.layerConfig })

testJobsContract("durable, in memory (DurableJobs.layerMemory)", { ...durable, layer: DurableJobs.layerMemory })

testJobsContract("durable, on SQLite (DurableJobs.layerSqlite)", {
  ...durable,
  layer: Layer.unwrap(Effect.map(tempDir, (dir) => DurableJobs.layerSqlite(Path.join(dir, "jobs.db"))))
})
