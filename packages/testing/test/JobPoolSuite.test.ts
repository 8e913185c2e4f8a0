import { JobPool } from "@async-job/core"
import { testJobPool } from "@async-job/testing/JobPoolSuite"
import { Effect, Layer } from "effect"

testJobPool("JobPool.layer (in memory)", JobPool.layer)

/**
 * A second implementation of the service: a pool of the application's own that decorates the engine's (here it
 * counts what goes through it, as an app might to meter or log its jobs), delegating every operation. The
 * contract holds for it as for the engine's pool.
 */
const metered = (options?: JobPool.Options) =>
  Layer.effect(
    JobPool.JobPool,
    Effect.map(JobPool.make(options), (inner): JobPool.JobPool => {
      const counts = { start: 0, resume: 0, cancel: 0 }
      return {
        [JobPool.TypeId]: JobPool.TypeId,
        id: inner.id,
        start: (body, startOptions) => Effect.suspend(() => (counts.start++, inner.start(body, startOptions))),
        resume: (job) => Effect.suspend(() => (counts.resume++, inner.resume(job))),
        cancel: (job) => Effect.suspend(() => (counts.cancel++, inner.cancel(job))),
        stats: inner.stats,
        statsUnsafe: inner.statsUnsafe,
        reconfigure: inner.reconfigure
      }
    })
  )

testJobPool("a pool of the application's own, decorating JobPool.make", metered)
