/**
 * The durable engine of the Postgres example's runners: each
 * process is a runner of `effect/cluster` at its own address, all
 * on one database, where the jobs, their journal and the pool's
 * bound live. A job continues on whichever runner owns its shard;
 * any runner can start, signal, resume, poll or cancel any job.
 */
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import {
  NodeClusterSocket,
  NodeServices
} from "@effect/platform-node"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Layer, Logger, Option, Redacted } from "effect"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import { RefundLive } from "./refund.js"

export const layerPostgres = (
  url: string,
  port: number,
  logFile: string
) => {
  const shardingConfig = {
    // where the other runners reach this one
    runnerAddress: Option.some(
      RunnerAddress.make("127.0.0.1", port)
    ),
    // fewer shards and shorter polls than the defaults, for an
    // example that starts and stops runners at once
    shardsPerGroup: 30,
    refreshAssignmentsInterval: Duration.millis(500),
    entityMessagePollInterval: Duration.millis(500)
  }
  return RefundLive.pipe(
    Layer.provideMerge(DurableJobPool.layerCluster({ maxSize: 8 })),
    Layer.provide(
      NodeClusterSocket.layer({ storage: "byo", shardingConfig })
    ),
    Layer.provide(
      DurableJobPool.layerClusterStorage(shardingConfig)
    ),
    Layer.provide(PgClient.layer({ url: Redacted.make(url) })),
    // the cluster's own log lines (runners joining, shards moving,
    // a health check late on a busy machine) go to a file, not to
    // the runner's output
    Layer.provide(
      Logger.layer([Logger.toFile(Logger.formatLogFmt, logFile)])
    ),
    Layer.provide(NodeServices.layer)
  )
}
