import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { testDurableJobs } from "./fixtures/suite.js"
import { tempDir } from "./fixtures/tmp.js"

// the same contract in one process, on a fresh SQLite file per test
testDurableJobs("SingleRunner on SQLite", (options) =>
  Layer.unwrapScoped(
    Effect.map(tempDir("sqlite"), (dir) =>
      DurableJobPool.layerSqlite({ ...options, filename: path.join(dir, "jobs.db") }))
  ))
