/**
 * The pools' metrics, kept as plain counts and read by the metric registry
 * when it is read.
 *
 * Effect 4 keeps metric series in a registry found in the context
 * (`Metric.MetricRegistry`); updating a series looks the registry and the
 * series up each time. A job cycle would pay that four or five times, so the
 * engine registers each series once per registry with hooks
 * (`Metric.registerUnsafe`, effect's lever for values that already live in a
 * data structure) and only increments plain fields of a `Ledger` on the hot
 * path. A pool reports to the registry of the context it was made in; the
 * occupancy gauges are sums over that registry's open pools.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/** @internal */
export const starts = Metric.counter("async_job_starts_total", { description: "Jobs started", incremental: true })
/** @internal */
export const pauses = Metric.counter("async_job_pauses_total", { description: "Job pauses", incremental: true })
/** @internal */
export const resumes = Metric.counter("async_job_resumes_total", { description: "Job resumes", incremental: true })
/** @internal */
export const finishes = Metric.counter("async_job_finishes_total", {
  description: "Jobs that ended, by outcome (finished, failed, cancelled)",
  incremental: true
})
/** @internal */
export const noJobs = Metric.counter("async_job_no_jobs_total", {
  description: "Starts refused because the pool was full",
  incremental: true
})
/** @internal */
export const cancellations = Metric.counter("async_job_cancellations_total", {
  description: "Paused jobs cancelled",
  incremental: true
})
/** @internal */
export const running = Metric.gauge("async_job_pool_running", { description: "Jobs running, in all pools" })
/** @internal */
export const paused = Metric.gauge("async_job_pool_paused", { description: "Jobs paused, in all pools" })
/** @internal */
export const idle = Metric.gauge("async_job_pool_idle", { description: "Idle job slots, in all open pools" })

/** What a pool tells its ledger of its occupancy. */
interface Occupancy {
  readonly created: number
  readonly running: number
  readonly paused: number
  readonly closed: boolean
}

/**
 * The counts behind one registry's series: counters the pools increment, and
 * the pools whose occupancy the gauges sum.
 *
 * @internal
 */
export interface Ledger {
  starts: number
  pauses: number
  resumes: number
  noJobs: number
  cancellations: number
  finished: number
  failed: number
  cancelled: number
  readonly pools: Set<Occupancy>
}

const ledgers = new WeakMap<Metric.MetricRegistry, Map<Metric.Metric.AttributeSet, Ledger>>()

const count = (read: () => number): Metric.Metric.Hooks<number, Metric.CounterState<number>> => ({
  get: () => ({ count: read(), incremental: true }),
  update: () => {},
  modify: () => {}
})

const gauge = (read: () => number): Metric.Metric.Hooks<number, Metric.GaugeState<number>> => ({
  get: () => ({ value: read() }),
  update: () => {},
  modify: () => {}
})

const sum = (ledger: Ledger, of: (pool: Occupancy) => number): number => {
  let total = 0
  for (const pool of ledger.pools) total += of(pool)
  return total
}

/**
 * The ledger of the registry (and metric attributes) in `context`, registered
 * on first use; counts already in the registry's series carry over.
 *
 * @internal
 */
export const ledgerFor = (context: Context.Context<never>): Ledger => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const attributes = Context.get(context, Metric.CurrentMetricAttributes)
  let byAttributes = ledgers.get(registry)
  if (byAttributes === undefined) {
    byAttributes = new Map()
    ledgers.set(registry, byAttributes)
  }
  const known = byAttributes.get(attributes)
  if (known !== undefined) return known
  const outcome = (name: "finished" | "failed" | "cancelled") => Metric.withAttributes(finishes, { outcome: name })
  const before = (metric: Metric.Metric<number, Metric.CounterState<number>>) => metric.valueUnsafe(context).count
  const ledger: Ledger = {
    starts: before(starts),
    pauses: before(pauses),
    resumes: before(resumes),
    noJobs: before(noJobs),
    cancellations: before(cancellations),
    finished: before(outcome("finished")),
    failed: before(outcome("failed")),
    cancelled: before(outcome("cancelled")),
    pools: new Set()
  }
  Metric.registerUnsafe(starts, context, count(() => ledger.starts))
  Metric.registerUnsafe(pauses, context, count(() => ledger.pauses))
  Metric.registerUnsafe(resumes, context, count(() => ledger.resumes))
  Metric.registerUnsafe(noJobs, context, count(() => ledger.noJobs))
  Metric.registerUnsafe(cancellations, context, count(() => ledger.cancellations))
  Metric.registerUnsafe(outcome("finished"), context, count(() => ledger.finished))
  Metric.registerUnsafe(outcome("failed"), context, count(() => ledger.failed))
  Metric.registerUnsafe(outcome("cancelled"), context, count(() => ledger.cancelled))
  Metric.registerUnsafe(running, context, gauge(() => sum(ledger, (pool) => pool.running)))
  Metric.registerUnsafe(paused, context, gauge(() => sum(ledger, (pool) => pool.paused)))
  Metric.registerUnsafe(
    idle,
    context,
    gauge(() => sum(ledger, (pool) => pool.closed ? 0 : pool.created - pool.running - pool.paused))
  )
  byAttributes.set(attributes, ledger)
  return ledger
}

/**
 * A pool's occupancy counts in its ledger's gauges from when it is made until
 * it has closed and every one of its jobs has unwound.
 *
 * @internal
 */
export const attach = (ledger: Ledger, pool: Occupancy): void => {
  ledger.pools.add(pool)
}

/** @internal */
export const detach = (ledger: Ledger, pool: Occupancy): void => {
  ledger.pools.delete(pool)
}
