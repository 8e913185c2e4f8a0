/**
 * The benchmark entries of issue 5, each with the baselines it is judged against.
 * Every function resolves to one result row.
 */
import { AsyncJob, JobPool, WaitCtx, WaitFd } from "@async-job/core"
import {
  type Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  ManagedRuntime,
  type Option,
  Pool,
  Runtime,
  Scheduler,
  Scope,
  Tracer
} from "effect"
import * as Crypto from "node:crypto"
import { Session } from "node:inspector/promises"
import { cryptoPool } from "./cryptoPool.js"
import { durableCycle } from "./durable.js"
import { heapUsed, median, nsPerOp, row, type Sample } from "./measure.js"

export interface Result {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baselines: Record<string, number>
  readonly ratios: Record<string, number>
}

export interface Settings {
  readonly iterations: number
  readonly samples: number
  readonly pausedJobs: number
  readonly poolSize: number
}

/** Runs an Effect benchmark loop of `n` iterations through one runtime. */
const effectLoop = (make: (n: number) => Effect.Effect<void, unknown>): Sample["run"] => (n) =>
  Effect.runPromise(make(n) as Effect.Effect<void>)

// ---------------------------------------------------------------------------- baselines

const forkDeferred = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const deferred = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.as(Deferred.await(deferred), 1))
      yield* Deferred.succeed(deferred, undefined)
      yield* Fiber.join(fiber)
    }
  })
)

const forkJoin = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Fiber.join(yield* Effect.fork(Effect.succeed(1)))
  })
)

/**
 * The design's floor: what a job cycle costs in effect alone, with nothing of
 * this engine. Each job is a fiber of its own with a snapshot of its caller's
 * FiberRefs and context (Port decision 11), its pause an uninterruptible wait
 * on a fresh `Deferred` (issue 10), and both run synchronously on the caller's
 * stack (a `SyncScheduler` flushed by the caller), as the engine's hand-off
 * scheduler runs them. No handle, pool, status, steps, metrics or spans: an
 * engine with the same design cannot cost less than this.
 */
const designFloor = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* floorCycle
  })
)

/** The pause a floor job made last (its body hands it out here). */
let floorPause: Deferred.Deferred<void> | undefined
const floorBody = Effect.as(
  Effect.withFiberRuntime<void>((fiber) => {
    floorPause = Deferred.unsafeMake<void>(fiber.id())
    return Effect.uninterruptible(Deferred.await(floorPause))
  }),
  1
)

/** Forks a floor job from `caller` and runs it on `scheduler` until it pauses: its fiber and its pause. */
const forkFloorJob = (
  caller: Fiber.RuntimeFiber<unknown, unknown>,
  scheduler: Scheduler.SyncScheduler
): readonly [Fiber.RuntimeFiber<number>, Deferred.Deferred<void>] => {
  const runtime = Runtime.make({
    context: caller.currentContext,
    fiberRefs: caller.getFiberRefs(),
    runtimeFlags: Runtime.defaultRuntimeFlags
  })
  const job = Runtime.runFork(runtime, floorBody, { scheduler })
  const pause = floorPause
  floorPause = undefined
  if (pause === undefined) throw new Error("design floor: the job did not pause on the caller's stack")
  return [job, pause]
}

const floorCycle = Effect.withFiberRuntime<unknown>((caller) => {
  const scheduler = new Scheduler.SyncScheduler()
  const [job, pause] = forkFloorJob(caller, scheduler)
  Deferred.unsafeDone(pause, Exit.void)
  scheduler.flush()
  const exit = job.unsafePoll()
  return exit === null ? Effect.die("design floor: the job did not finish on the caller's stack") : exit
})

/** An async function awaiting a Promise that the driver resolves: the JS floor with promises. */
const asyncPromise = async (n: number) => {
  for (let i = 0; i < n; i++) {
    let wake!: () => void
    let paused!: () => void
    const pausedP = new Promise<void>((resolve) => (paused = resolve))
    const job = (async () => {
      await new Promise<void>((resolve) => {
        wake = resolve
        paused()
      })
      return 1
    })()
    await pausedP
    wake()
    await job
  }
}

/** A generator resumed with next(): the JS floor. */
const generator = (n: number) => {
  function* job() {
    yield
    return 1
  }
  for (let i = 0; i < n; i++) {
    const it = job()
    it.next()
    it.next()
  }
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
const discardingTracer = Tracer.make({
  span: (name, parent, context, links, startTime, kind) =>
    new DiscardedSpan(name, parent, context, links, startTime, kind),
  context: (f) => f()
})

class DiscardedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = "0"
  readonly traceId = "0"
  readonly sampled = true
  readonly attributes = new Map<string, unknown>()
  status: Tracer.SpanStatus
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    readonly links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.status = { _tag: "Started", startTime }
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute() {}
  event() {}
  addLinks() {}
}

export const jobCycle = async (s: Settings): Promise<Result> => {
  const runtime = ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))
  const cycle = (n: number) => runtime.runPromise(cycles(n))
  const traced = (n: number) => runtime.runPromise(Effect.withTracer(cycles(n), discardingTracer))
  const t = await nsPerOp([
    { name: "job-cycle", run: cycle },
    { name: "effect-fork-deferred", run: forkDeferred },
    { name: "design-floor", run: designFloor },
    { name: "job-cycle-with-tracer", run: traced },
    { name: "js-async-promise", run: asyncPromise },
    { name: "js-generator", run: generator }
  ], s)
  await runtime.dispose()
  return row("job-cycle", "ns", t.get("job-cycle")!, {
    "effect-fork-deferred": t.get("effect-fork-deferred")!,
    "design-floor": t.get("design-floor")!,
    "job-cycle-with-tracer": t.get("job-cycle-with-tracer")!,
    "js-async-promise": t.get("js-async-promise")!,
    "js-generator": t.get("js-generator")!
  })
}

/**
 * Bytes allocated per run of `run(n)`, collected or not: V8's sampling heap
 * profiler, keeping the samples of objects the GC has freed too. Unlike a
 * time, this does not move with the machine's load, and half of a cycle's
 * time is the GC collecting what it allocated.
 */
const bytesPerOp = async (run: (n: number) => unknown, n: number): Promise<number> => {
  await run(n)
  const session = new Session()
  session.connect()
  try {
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    } as { samplingInterval: number })
    await run(n)
    const { profile } = await session.post("HeapProfiler.stopSampling")
    let total = 0
    const walk = (node: { selfSize: number; children: ReadonlyArray<typeof node> }): void => {
      total += node.selfSize
      node.children.forEach(walk)
    }
    walk(profile.head)
    return total / n
  } finally {
    session.disconnect()
  }
}

export const jobCycleAllocation = async (s: Settings): Promise<Result> => {
  const runtime = ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))
  const n = Math.max(200, s.iterations * 2)
  const ours = await bytesPerOp((k) => runtime.runPromise(cycles(k)), n)
  const theirs = await bytesPerOp(forkDeferred, n)
  const floor = await bytesPerOp(designFloor, n)
  await runtime.dispose()
  return row("job-cycle-allocation", "bytes", ours, { "effect-fork-deferred": theirs, "design-floor": floor })
}

export const jobNoPause = async (s: Settings): Promise<Result> => {
  const runtime = ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))
  const noPause = (n: number) =>
    runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* AsyncJob.start(Effect.succeed(1))
    }))
  const t = await nsPerOp([{ name: "job-no-pause", run: noPause }, { name: "effect-fork-join", run: forkJoin }], s)
  await runtime.dispose()
  return row("job-no-pause", "ns", t.get("job-no-pause")!, { "effect-fork-join": t.get("effect-fork-join")! })
}

/** Bytes of heap per parked unit, with `count` of them alive at once. */
const heapPer = async (count: number, park: (count: number) => Promise<() => Promise<void>>) => {
  const before = heapUsed()
  const release = await park(count)
  const after = heapUsed()
  await release()
  return (after - before) / count
}

export const pausedJobHeap = async (s: Settings): Promise<Result> => {
  const jobs = (count: number) =>
    Effect.runPromise(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(JobPool.make(), scope)
      for (let i = 0; i < count; i++) yield* pool.start(onlyPause)
      return () => Effect.runPromise(Scope.close(scope, Exit.void))
    }))
  const fibers = (count: number) =>
    Effect.runPromise(Effect.gen(function*() {
      const deferreds: Array<Deferred.Deferred<void>> = []
      for (let i = 0; i < count; i++) {
        const deferred = yield* Deferred.make<void>()
        deferreds.push(deferred)
        yield* Effect.forkDaemon(Deferred.await(deferred))
      }
      yield* Effect.yieldNow()
      return () =>
        Effect.runPromise(Effect.forEach(deferreds, (d) => Deferred.succeed(d, undefined), { discard: true }))
    }))
  // the design's floor (see `designFloor`): a fiber from its caller's snapshot, paused on a Deferred
  const floorJobs = (count: number) =>
    Effect.runPromise(Effect.withFiberRuntime<() => Promise<void>>((caller) => {
      const scheduler = new Scheduler.SyncScheduler()
      const pauses: Array<Deferred.Deferred<void>> = []
      for (let i = 0; i < count; i++) pauses.push(forkFloorJob(caller, scheduler)[1])
      return Effect.succeed(async () => {
        for (const pause of pauses) Deferred.unsafeDone(pause, Exit.void)
        scheduler.flush()
      })
    }))
  const ours: Array<number> = []
  const theirs: Array<number> = []
  const floor: Array<number> = []
  for (let i = 0; i < Math.max(1, s.samples >> 1); i++) {
    ours.push(await heapPer(s.pausedJobs, jobs))
    theirs.push(await heapPer(s.pausedJobs, fibers))
    floor.push(await heapPer(s.pausedJobs, floorJobs))
  }
  return row("paused-job-heap", "bytes", median(ours), {
    "effect-fiber-heap": median(theirs),
    "design-floor": median(floor)
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
  const runtime = ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))
  const cycle = (n: number) => runtime.runPromise(cycles(n))
  const t = await nsPerOp([
    { name: "facade-cycle", run: facade },
    { name: "job-cycle", run: cycle },
    { name: "js-async-promise", run: asyncPromise }
  ], s)
  await ossl.ASYNC_cleanup_thread()
  await runtime.dispose()
  return row("facade-cycle", "ns", t.get("facade-cycle")!, {
    "job-cycle": t.get("job-cycle")!,
    "js-async-promise": t.get("js-async-promise")!
  })
}

export const poolInit = async (s: Settings): Promise<Result> => {
  const ms = (eff: Effect.Effect<unknown, unknown, Scope.Scope>) => async () => {
    const start = performance.now()
    await Effect.runPromise(Effect.scoped(eff) as Effect.Effect<unknown>)
    return performance.now() - start
  }
  const ours = ms(JobPool.make({ maxSize: s.poolSize, initSize: s.poolSize }))
  const theirs = ms(
    Effect.flatMap(Pool.make({ acquire: Effect.succeed({}), size: s.poolSize }), (pool) => Effect.scoped(pool.get))
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
      for (let i = 0; i < n; i++) yield* Effect.either(pool.start(onlyPause))
    }))
  )
  const t = await nsPerOp([{ name: "no-jobs-reject", run: reject }], s)
  return row("no-jobs-reject", "ns", t.get("no-jobs-reject")!, {})
}

export const waitCtxSetClear = async (s: Settings): Promise<Result> => {
  const setClear = effectLoop((n) =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const fd = WaitFd.unsafeMake()
      const key = {}
      for (let i = 0; i < n; i++) {
        yield* WaitCtx.setWaitFd(ctx, key, fd)
        yield* WaitCtx.clearFd(ctx, key)
      }
    }))
  )
  const t = await nsPerOp([{ name: "wait-ctx-set-clear", run: setClear }], s)
  return row("wait-ctx-set-clear", "ns", t.get("wait-ctx-set-clear")!, {})
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
  return row(name, "ns", t.get(name)!, {})
}

export const rsa2048Sign = (s: Settings): Promise<Result> =>
  cryptoSign("rsa2048-sign", Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey)(s)

export const ecdsaP256Sign = (s: Settings): Promise<Result> =>
  cryptoSign("ecdsa-p256-sign", Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey)(s)

export const all: ReadonlyArray<readonly [string, (s: Settings) => Promise<Result>]> = [
  ["job-cycle", jobCycle],
  ["job-cycle-allocation", jobCycleAllocation],
  ["job-no-pause", jobNoPause],
  ["paused-job-heap", pausedJobHeap],
  ["facade-cycle", facadeCycle],
  ["pool-init-10k", poolInit],
  ["no-jobs-reject", noJobsReject],
  ["wait-ctx-set-clear", waitCtxSetClear],
  ["durable-cycle-sqlite", durableCycle],
  ["crypto-pool", cryptoPool],
  ["rsa2048-sign", rsa2048Sign],
  ["ecdsa-p256-sign", ecdsaP256Sign]
]
