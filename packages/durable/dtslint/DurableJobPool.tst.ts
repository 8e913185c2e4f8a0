/**
 * Type tests for the public signatures of DurableJobPool: its layers and its service, checked by `tsc -b` (part of
 * `pnpm test`). A wrong type makes the build, and so the test command, fail.
 */
import type * as JobPool from "@async-job/core/JobPool"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import type * as Config from "effect/Config"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { expectTypeOf } from "vitest"
import * as DurableJobPool from "../src/DurableJobPool.js"
import type { StoreError } from "../src/Errors.js"

// the layers: in memory, SQLite, a SQL ledger, a cluster over Postgres, and a cluster runner's storage
expectTypeOf(DurableJobPool.layerMemory({ maxSize: 8 })).toEqualTypeOf<
  Layer.Layer<DurableJobPool.DurableJobPool | WorkflowEngine>
>()
expectTypeOf(DurableJobPool.layerMemory()).toEqualTypeOf(DurableJobPool.layerMemory({ maxSize: 8 }))
expectTypeOf(DurableJobPool.layerSqlite({ filename: "jobs.db", maxSize: 8 })).toEqualTypeOf<
  Layer.Layer<DurableJobPool.DurableJobPool | WorkflowEngine, StoreError | Config.ConfigError>
>()
expectTypeOf(DurableJobPool.layerSqlPool({ maxSize: 8 })).toEqualTypeOf<
  Layer.Layer<DurableJobPool.DurableJobPool, StoreError, SqlClient.SqlClient>
>()
expectTypeOf(DurableJobPool.layerCluster({ maxSize: 8 })).toEqualTypeOf<
  Layer.Layer<
    DurableJobPool.DurableJobPool | WorkflowEngine,
    StoreError,
    Sharding.Sharding | MessageStorage.MessageStorage | SqlClient.SqlClient
  >
>()
expectTypeOf(DurableJobPool.layerClusterStorage()).toEqualTypeOf<
  Layer.Layer<
    MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
    SqlError | Config.ConfigError,
    SqlClient.SqlClient
  >
>()

// the pool service: its stats are core's PoolStats
expectTypeOf<DurableJobPool.PoolStats>().toEqualTypeOf<JobPool.PoolStats>()
declare const pool: DurableJobPool.DurableJobPool
expectTypeOf(pool.stats).toEqualTypeOf<Effect.Effect<DurableJobPool.PoolStats, StoreError>>()
expectTypeOf(pool.list({ limit: 10 })).toEqualTypeOf<Effect.Effect<DurableJobPool.JobPage, StoreError>>()

// options of the wrong shape do not type-check
// @ts-expect-error maxSize is a number
DurableJobPool.layerMemory({ maxSize: "8" })
// @ts-expect-error layerSqlite needs the file
DurableJobPool.layerSqlite({ maxSize: 8 })
