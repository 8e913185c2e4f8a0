/**
 * The benchmark entries (issues 5, 10, 23), each with the baselines it is judged against, measured in the same run.
 * Every function resolves to one result row; `pnpm bench` reports ratios and asserts nothing.
 *
 * The engine runs on effect 4 (`effect`); effect 3.22.4 (`effect3`, an npm alias) serves only as a baseline, so
 * that the two generations are measured side by side. See `baselines.ts` for every baseline's recipe.
 */
import { AsyncJob, JobPool, WaitCtx, WaitFd } from "@async-job/core"
import { type Context, Effect, Exit, ManagedRuntime, type Option, Pool, Scope, Tracer } from "effect"
import * as Crypto from "node:crypto"
import {
  asyncPromise,
  designFloor,
  effect3DesignFloor,
  effect3ForkDeferred,
  effect3ForkJoin,
  effectLoop,
  forkDeferred,
  forkJoin,
  generator,
  parkFibers,
  parkFibers3,
  parkFloorJobs
} from "./baselines.js"
import { cryptoPool } from "./cryptoPool.js"
import { durableCycle, durablePostgres, durableThroughputSqlite } from "./durable.js"
import { bytesPerOp, heapUsed, median, nsPerOp, row, timeRow } from "./measure.js"
import { service } from "./service.js"

export interface Result {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baselines: Record<string, number>
  readonly ratios: Record<string, number>
  /**
   * What `value` measures when it is not async-job's engine (absent: it is), e.g. `"node:crypto"` for the
   * signatures given for scale. The chart labels the entry's bar with it.
   */
  readonly subject?: string | undefined
  /**
   * For a time measured in this process: the process's CPU time per operation (every thread's, in `unit`), of the
   * entry and of each baseline, with its ratios. The wall-clock `value` is the entry's figure; the CPU time moves
   * less with the machine's load (see `nsPerOp`).
   */
  readonly cpu?: {
    readonly value: number
    readonly baselines: Record<string, number>
    readonly ratios: Record<string, number>
  } | undefined
  /** Figures that explain the value (the service entries: throughput, latency, CPU per request, errors), by name. */
  readonly detail?: Record<string, number> | undefined
}

export interface Settings {
  /** operations per timed round */
  readonly iterations: number
  /** interleaved rounds of a time or heap entry (the median is reported) */
  readonly samples: number
  /** job cycles per allocation round */
  readonly allocationCycles: number
  /** interleaved rounds of an allocation entry (the median is reported) */
  readonly allocationSamples: number
  /** the sampling heap profiler's mean interval, in bytes */
  readonly samplingInterval: number
  /** jobs (fibers) held paused at once by `paused-job-heap` */
  readonly pausedJobs: number
  /** interleaved rounds of `paused-job-heap` (the median is reported) */
  readonly heapSamples: number
  readonly poolSize: number
  /** `service`: alternating rounds of load per operation and side */
  readonly serviceRounds: number
  /** `service`: seconds of each measured load run, and of the warm-up before it */
  readonly serviceSeconds: number
  readonly serviceWarmupSeconds: number
  /** `service`: measured starts of each side */
  readonly serviceStartups: number
}

// ---------------------------------------------------------------------------- entries

const onlyPause = Effect.as(AsyncJob.pause, 1)

/** `n` job cycles (start → pause → resume → finish) through `AsyncJob`. */
const cycles = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const step = yield* AsyncJob.start(onlyPause)
      if (step._tag === "Paused") yield* AsyncJob.resume(step.job)
    }
  })

/** A tracer that keeps nothing: what a span costs the engine when a tracer is installed, without exporting. */
const discardingTracer = Tracer.make({ span: (options) => new DiscardedSpan(options) })

class DiscardedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = "0"
  readonly traceId = "0"
  readonly attributes = new Map<string, unknown>()
  readonly name: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly links: ReadonlyArray<Tracer.SpanLink>
  readonly sampled: boolean
  readonly kind: Tracer.SpanKind
  status: Tracer.SpanStatus
  constructor(options: Parameters<Tracer.Tracer["span"]>[0]) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.links = options.links
    this.sampled = options.sampled
    this.kind = options.kind
    this.status = { _tag: "Started", startTime: options.startTime }
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute() {}
  event() {}
  addLinks() {}
}

/** A runtime with a pool of 16 slots, for entries that go through `AsyncJob`. */
const poolRuntime = () => ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))

export const jobCycle = async (s: Settings): Promise<Result> => {
  const runtime = poolRuntime()
  const cycle = (n: number) => runtime.runPromise(cycles(n))
  const traced = (n: number) => runtime.runPromise(Effect.withTracer(cycles(n), discardingTracer))
  try {
    const t = await nsPerOp([
      { name: "job-cycle", run: cycle },
      { name: "effect-fork-deferred", run: forkDeferred },
      { name: "effect3-fork-deferred", run: effect3ForkDeferred },
      { name: "design-floor", run: designFloor },
      { name: "job-cycle-with-tracer", run: traced },
      { name: "js-async-promise", run: asyncPromise },
      { name: "js-generator", run: generator }
    ], s)
    return timeRow("job-cycle", t, [
      "effect-fork-deferred",
      "effect3-fork-deferred",
      "design-floor",
      "job-cycle-with-tracer",
      "js-async-promise",
      "js-generator"
    ])
  } finally {
    await runtime.dispose()
  }
}

/**
 * Bytes allocated per job cycle, collected or not (see `bytesPerOp`: V8's sampling heap profiler, the median of
 * interleaved rounds), against the same recipes as `job-cycle`. Half of a cycle's time is the GC collecting what
 * it allocated, and unlike a time this does not move with the machine's load.
 */
export const jobCycleAllocation = async (s: Settings): Promise<Result> => {
  const runtime = poolRuntime()
  try {
    const bytes = await bytesPerOp([
      { name: "job-cycle-allocation", run: (n) => runtime.runPromise(cycles(n)) },
      { name: "effect-fork-deferred", run: forkDeferred },
      { name: "effect3-fork-deferred", run: effect3ForkDeferred },
      { name: "design-floor", run: designFloor }
    ], { iterations: s.allocationCycles, samples: s.allocationSamples, samplingInterval: s.samplingInterval })
    return row("job-cycle-allocation", "bytes", bytes.get("job-cycle-allocation")!, {
      "effect-fork-deferred": bytes.get("effect-fork-deferred")!,
      "effect3-fork-deferred": bytes.get("effect3-fork-deferred")!,
      "design-floor": bytes.get("design-floor")!
    })
  } finally {
    await runtime.dispose()
  }
}

export const jobNoPause = async (s: Settings): Promise<Result> => {
  const runtime = poolRuntime()
  const noPause = (n: number) =>
    runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* AsyncJob.start(Effect.succeed(1))
    }))
  try {
    const t = await nsPerOp([
      { name: "job-no-pause", run: noPause },
      { name: "effect-fork-join", run: forkJoin },
      { name: "effect3-fork-join", run: effect3ForkJoin }
    ], s)
    return timeRow("job-no-pause", t, ["effect-fork-join", "effect3-fork-join"])
  } finally {
    await runtime.dispose()
  }
}

/**
 * The design floor's own cycle (see `baselines.ts`), which `job-cycle` is judged against, on effect 4 against the
 * same design on effect 3.22.4: what the move to effect 4 gives any engine of this design. Not async-job's code.
 */
export const designFloorCycle = async (s: Settings): Promise<Result> => {
  const t = await nsPerOp([
    { name: "design-floor", run: designFloor },
    { name: "effect3-design-floor", run: effect3DesignFloor },
    { name: "effect-fork-deferred", run: forkDeferred }
  ], s)
  return {
    ...timeRow("design-floor", t, ["effect3-design-floor", "effect-fork-deferred"]),
    subject: "design floor, effect 4 (no engine)"
  }
}

/** Bytes of heap per parked unit (`heapUsed` after a full GC), with `count` of them alive at once. */
const heapPer = async (count: number, park: (count: number) => Promise<() => Promise<void>>) => {
  const before = heapUsed()
  const release = await park(count)
  const after = heapUsed()
  await release()
  return (after - before) / count
}

/**
 * Heap held per paused job, with `pausedJobs` of them paused at once, against a fiber parked on a `Deferred` (the
 * least a paused job can be on either generation) and against the design floor's job held paused. The median of
 * rounds interleaved like the timings'.
 */
export const pausedJobHeap = async (s: Settings): Promise<Result> => {
  const jobs = (count: number) =>
    Effect.runPromise(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make(), scope)
      for (let i = 0; i < count; i++) yield* pool.start(onlyPause)
      return () => Effect.runPromise(Scope.close(scope, Exit.void))
    }))
  const candidates = [
    ["paused-job-heap", jobs],
    ["effect-fiber-heap", parkFibers],
    ["effect3-fiber-heap", parkFibers3],
    ["design-floor", parkFloorJobs]
  ] as const
  const heaps = new Map<string, Array<number>>(candidates.map(([name]) => [name, []]))
  for (let i = 0; i < s.heapSamples; i++) {
    for (const [name, park] of candidates) heaps.get(name)!.push(await heapPer(s.pausedJobs, park))
  }
  const m = (name: string) => median(heaps.get(name)!)
  return row("paused-job-heap", "bytes", m("paused-job-heap"), {
    "effect-fiber-heap": m("effect-fiber-heap"),
    "effect3-fiber-heap": m("effect3-fiber-heap"),
    "design-floor": m("design-floor")
  })
}

export const facadeCycle = async (s: Settings): Promise<Result> => {
  const ossl = await import("@async-job/openssl")
  const job = { value: null as unknown }
  const ret = { value: 0 }
  const func = async () => {
    await ossl.ASYNC_pause_job()
    return 1
  }
  const facade = async (n: number) => {
    for (let i = 0; i < n; i++) {
      job.value = null
      await ossl.ASYNC_start_job(job as never, null, ret, func, null)
      await ossl.ASYNC_start_job(job as never, null, ret, func, null)
    }
  }
  // the core cycle again, interleaved with the facade's, so that the two are compared under the same load
  const runtime = poolRuntime()
  const cycle = (n: number) => runtime.runPromise(cycles(n))
  const t = await nsPerOp([
    { name: "facade-cycle", run: facade },
    { name: "job-cycle", run: cycle },
    { name: "js-async-promise", run: asyncPromise }
  ], s)
  await ossl.ASYNC_cleanup_thread()
  await runtime.dispose()
  return timeRow("facade-cycle", t, ["job-cycle", "js-async-promise"])
}

export const poolInit = async (s: Settings): Promise<Result> => {
  const ms = (eff: Effect.Effect<unknown, unknown, Scope.Scope>) => async () => {
    const start = performance.now()
    await Effect.runPromise(Effect.scoped(eff) as Effect.Effect<unknown>)
    return performance.now() - start
  }
  const ours = ms(JobPool.make({ maxSize: s.poolSize, initSize: s.poolSize }))
  const theirs = ms(
    Effect.flatMap(
      Pool.make({ acquire: Effect.succeed({}), size: s.poolSize }),
      (pool) => Effect.scoped(Pool.get(pool))
    )
  )
  const a: Array<number> = []
  const b: Array<number> = []
  for (let i = 0; i < Math.max(3, s.samples >> 1); i++) {
    a.push(await ours())
    b.push(await theirs())
  }
  return row(`pool-init-10k`, "ms", median(a), { "effect-pool-10k": median(b) })
}

export const noJobsReject = async (s: Settings): Promise<Result> => {
  const reject = effectLoop((n) =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      yield* pool.start(onlyPause)
      for (let i = 0; i < n; i++) yield* Effect.result(pool.start(onlyPause))
    }))
  )
  const t = await nsPerOp([{ name: "no-jobs-reject", run: reject }], s)
  return timeRow("no-jobs-reject", t, [])
}

export const waitCtxSetClear = async (s: Settings): Promise<Result> => {
  const setClear = effectLoop((n) =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const fd = WaitFd.makeUnsafe()
      const key = {}
      for (let i = 0; i < n; i++) {
        yield* WaitCtx.setWaitFd(ctx, key, fd)
        yield* WaitCtx.clearFd(ctx, key)
      }
    }))
  )
  const t = await nsPerOp([{ name: "wait-ctx-set-clear", run: setClear }], s)
  return timeRow("wait-ctx-set-clear", t, [])
}

/**
 * What a crypto operation costs on the same machine, for scale against the job cycle: a signature with
 * `node:crypto`, as the offload service makes them (SHA-256 over 5 bytes, a key generated once). A hundredth of the
 * iterations: an RSA-2048 signature takes about a millisecond.
 */
const cryptoSign = (name: string, key: Crypto.KeyObject) => async (s: Settings): Promise<Result> => {
  const data = Buffer.from("hello", "utf8")
  const sign = (n: number) => {
    for (let i = 0; i < n; i++) Crypto.sign("sha256", data, key)
  }
  const t = await nsPerOp([{ name, run: sign }], {
    iterations: Math.max(1, Math.round(s.iterations / 100)),
    samples: s.samples
  })
  return { ...timeRow(name, t, []), subject: "node:crypto" }
}

export const rsa2048Sign = (s: Settings): Promise<Result> =>
  cryptoSign("rsa2048-sign", Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey)(s)

export const ecdsaP256Sign = (s: Settings): Promise<Result> =>
  cryptoSign("ecdsa-p256-sign", Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey)(s)

/** An entry of `pnpm bench`. */
export interface Entry {
  /** what `--only` names it by */
  readonly name: string
  /** resolves to the entry's row, or to several rows when it measures a family at once (each with its baselines) */
  readonly run: (s: Settings) => Promise<Result | ReadonlyArray<Result>>
  /**
   * `"own"`: measured in a process of its own (`isolated.ts`), so that its figures do not depend on which entries
   * ran before it in the same process (see `bytesPerOp`: what V8 optimizes, and so allocates, depends on all the
   * code a process has run).
   */
  readonly process?: "own" | undefined
}

/** The entries, in the order they run and are reported. */
export const all: ReadonlyArray<Entry> = [
  { name: "job-cycle", run: jobCycle },
  { name: "job-cycle-allocation", run: jobCycleAllocation, process: "own" },
  { name: "design-floor", run: designFloorCycle },
  { name: "job-no-pause", run: jobNoPause },
  { name: "paused-job-heap", run: pausedJobHeap },
  { name: "facade-cycle", run: facadeCycle },
  { name: "pool-init-10k", run: poolInit },
  { name: "no-jobs-reject", run: noJobsReject },
  { name: "wait-ctx-set-clear", run: waitCtxSetClear },
  { name: "durable-cycle-sqlite", run: durableCycle },
  { name: "durable-throughput-sqlite", run: durableThroughputSqlite },
  { name: "durable-postgres", run: durablePostgres },
  { name: "crypto-pool", run: cryptoPool },
  { name: "rsa2048-sign", run: rsa2048Sign },
  { name: "ecdsa-p256-sign", run: ecdsaP256Sign },
  // the offload service against its Fastify + piscina peer, both as child processes: rows service-sha256,
  // service-ecdsa-p256-sign, service-rsa2048-sign, service-scrypt, service-startup, service-rss
  { name: "service", run: service, process: "own" }
]
