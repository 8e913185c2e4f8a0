/**
 * Counts the fibers that start and end under an effect, for the leak checks: effect 4's stand-in for
 * effect 3's `Supervisor.track`. Every fiber whose context carries `Metric.FiberRuntimeMetrics` reports its
 * start and its end there, and fibers forked under an effect (its children, and the engine's job fibers,
 * which start from their caller's context) inherit it.
 */
import { Effect, Metric } from "effect"

export interface FiberCounter {
  /** Fibers started under the counter so far. */
  readonly started: () => number
  /** Fibers started under the counter that have not ended yet. */
  readonly alive: () => number
  /** Runs `self` with every fiber it starts counted. */
  readonly count: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeFiberCounter = (): FiberCounter => {
  let started = 0
  let ended = 0
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      started++
    },
    recordFiberEnd: () => {
      ended++
    }
  }
  return {
    started: () => started,
    alive: () => started - ended,
    count: (self) => Effect.provideService(self, Metric.FiberRuntimeMetrics, service)
  }
}
