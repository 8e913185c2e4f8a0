/**
 * The baselines the engine's entries are judged against, each measured in the same run as the entry.
 *
 * - effect 4 recipes (`effect`, 4.1.x, what the engine runs on): a fiber per job awaiting a `Deferred`, forked and
 *   joined the way an Effect user would write it; a parked fiber.
 * - effect 3 recipes (`effect3`, effect@3.22.4 installed under an npm alias for these baselines only): the same
 *   recipes as they were written on effect 3, so that both generations are measured side by side.
 * - the design's floor, on effect 4 (see {@link floorCycle}).
 * - plain JavaScript: an async function awaiting a promise, and a generator.
 */
import { Deferred, Effect, Exit, Fiber } from "effect"
import {
  Deferred as Deferred3,
  Effect as Effect3,
  Exit as Exit3,
  Fiber as Fiber3,
  Runtime as Runtime3,
  Scheduler as Scheduler3
} from "effect3"
import type { Sample } from "./measure.js"

/** Runs an effect 4 benchmark loop of `n` iterations with `Effect.runPromise`. */
export const effectLoop = <E>(make: (n: number) => Effect.Effect<void, E>): Sample["run"] => (n) =>
  Effect.runPromise(make(n))

/** Runs an effect 3 benchmark loop of `n` iterations with effect 3's `Effect.runPromise`. */
const effect3Loop = <E>(make: (n: number) => Effect3.Effect<void, E>): Sample["run"] => (n) =>
  Effect3.runPromise(make(n))

// ---------------------------------------------------------------------------- effect 4 recipes

/**
 * `effect-fork-deferred`: effect 4's own recipe for a job cycle: fork a fiber awaiting a `Deferred`, complete the
 * `Deferred`, join the fiber.
 */
export const forkDeferred: Sample["run"] = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const deferred = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(Effect.as(Deferred.await(deferred), 1))
      yield* Deferred.succeed(deferred, undefined)
      yield* Fiber.join(fiber)
    }
  })
)

/** `effect-fork-join`: fork a fiber that succeeds at once, join it. */
export const forkJoin: Sample["run"] = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Fiber.join(yield* Effect.forkChild(Effect.succeed(1)))
  })
)

/**
 * `count` effect 4 fibers parked on a `Deferred` each (forked detached, and started at once so that each is parked
 * when this returns); resolves to the function that wakes them all.
 */
export const parkFibers = (count: number): Promise<() => Promise<void>> =>
  Effect.runPromise(Effect.gen(function*() {
    const deferreds: Array<Deferred.Deferred<void>> = []
    for (let i = 0; i < count; i++) {
      const deferred = Deferred.makeUnsafe<void>()
      deferreds.push(deferred)
      yield* Effect.forkDetach(Deferred.await(deferred), { startImmediately: true })
    }
    return () => Effect.runPromise(Effect.forEach(deferreds, (d) => Deferred.succeed(d, undefined), { discard: true }))
  }))

// ---------------------------------------------------------------------------- effect 3 recipes

/** `effect3-fork-deferred`: the recipe of {@link forkDeferred} as it was written on effect 3.22.4. */
export const effect3ForkDeferred: Sample["run"] = effect3Loop((n) =>
  Effect3.gen(function*() {
    for (let i = 0; i < n; i++) {
      const deferred = yield* Deferred3.make<void>()
      const fiber = yield* Effect3.fork(Effect3.as(Deferred3.await(deferred), 1))
      yield* Deferred3.succeed(deferred, undefined)
      yield* Fiber3.join(fiber)
    }
  })
)

/** `effect3-fork-join`: {@link forkJoin} on effect 3.22.4. */
export const effect3ForkJoin: Sample["run"] = effect3Loop((n) =>
  Effect3.gen(function*() {
    for (let i = 0; i < n; i++) yield* Fiber3.join(yield* Effect3.fork(Effect3.succeed(1)))
  })
)

/** {@link parkFibers} on effect 3.22.4: daemon fibers, parked once effect 3's scheduler has run them. */
export const parkFibers3 = (count: number): Promise<() => Promise<void>> =>
  Effect3.runPromise(Effect3.gen(function*() {
    const deferreds: Array<Deferred3.Deferred<void>> = []
    for (let i = 0; i < count; i++) {
      const deferred = yield* Deferred3.make<void>()
      deferreds.push(deferred)
      yield* Effect3.forkDaemon(Deferred3.await(deferred))
    }
    yield* Effect3.yieldNow()
    return () =>
      Effect3.runPromise(Effect3.forEach(deferreds, (d) => Deferred3.succeed(d, undefined), { discard: true }))
  }))

// ---------------------------------------------------------------------------- the design's floor

/**
 * The design's floor: what a job cycle costs in effect 4 alone, with nothing of this engine. Each job is a fiber
 * of its own, forked with `Effect.runForkWith(caller.context)` (the caller's context: Port decision 11; effect 4
 * runs the new fiber on the caller's stack until it suspends), its pause an uninterruptible wait on a fresh
 * `Deferred`, completed with `Deferred.doneUnsafe` (which runs the waiting fiber on the completer's stack). No
 * handle, pool, FiberSet, status, steps, metrics or spans: an engine of the same design cannot cost less.
 */
export const designFloor: Sample["run"] = effectLoop((n) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* floorCycle
  })
)

/** The pause a floor job made last (its body hands it out here). */
let floorPause: Deferred.Deferred<void> | undefined

const floorBody = Effect.as(
  Effect.suspend(() => {
    floorPause = Deferred.makeUnsafe<void>()
    return Effect.uninterruptible(Deferred.await(floorPause))
  }),
  1
)

/** Forks a floor job from `caller`, which runs on this stack until it pauses: its fiber and its pause. */
export const forkFloorJob = (
  caller: Fiber.Fiber<unknown, unknown>
): readonly [Fiber.Fiber<number>, Deferred.Deferred<void>] => {
  const job = Effect.runForkWith(caller.context)(floorBody)
  const pause = floorPause
  floorPause = undefined
  if (pause === undefined) throw new Error("design floor: the job did not pause on the caller's stack")
  return [job, pause]
}

/** One floor cycle: fork (the job runs to its pause), complete the pause (it runs to its end), read its exit. */
const floorCycle: Effect.Effect<number> = Effect.withFiber((caller) => {
  const [job, pause] = forkFloorJob(caller)
  Deferred.doneUnsafe(pause, Exit.void)
  const exit = job.pollUnsafe()
  return exit === undefined ? Effect.die("design floor: the job did not finish on the caller's stack") : exit
})

/**
 * `count` floor jobs held paused (see {@link designFloor}); resolves to the function that resumes them all, each
 * running to its end on the resumer's stack.
 */
export const parkFloorJobs = (count: number): Promise<() => Promise<void>> =>
  Effect.runPromise(Effect.withFiber((caller) => {
    const pauses: Array<Deferred.Deferred<void>> = []
    for (let i = 0; i < count; i++) pauses.push(forkFloorJob(caller)[1])
    return Effect.succeed(async () => {
      for (const pause of pauses) Deferred.doneUnsafe(pause, Exit.void)
    })
  }))

/**
 * `effect3-design-floor`: the design floor as it was written on effect 3.22.4, where a fiber forked by
 * `Runtime.runFork` and a fiber woken by a `Deferred` run on a scheduler: each floor job is forked from a runtime
 * made of its caller's context and FiberRefs snapshot, on a `SyncScheduler` that the caller flushes, so the job still
 * runs on the caller's stack.
 */
export const effect3DesignFloor: Sample["run"] = effect3Loop((n) =>
  Effect3.gen(function*() {
    for (let i = 0; i < n; i++) yield* floorCycle3
  })
)

let floorPause3: Deferred3.Deferred<void> | undefined

const floorBody3 = Effect3.as(
  Effect3.withFiberRuntime<void>((fiber) => {
    floorPause3 = Deferred3.unsafeMake<void>(fiber.id())
    return Effect3.uninterruptible(Deferred3.await(floorPause3))
  }),
  1
)

const floorCycle3: Effect3.Effect<unknown> = Effect3.withFiberRuntime<unknown>((caller) => {
  const scheduler = new Scheduler3.SyncScheduler()
  const runtime = Runtime3.make({
    context: caller.currentContext,
    fiberRefs: caller.getFiberRefs(),
    runtimeFlags: Runtime3.defaultRuntimeFlags
  })
  const job = Runtime3.runFork(runtime, floorBody3, { scheduler })
  const pause = floorPause3
  floorPause3 = undefined
  if (pause === undefined) return Effect3.dieMessage("effect 3 design floor: the job did not pause")
  Deferred3.unsafeDone(pause, Exit3.void)
  scheduler.flush()
  const exit = job.unsafePoll()
  return exit === null ? Effect3.dieMessage("effect 3 design floor: the job did not finish") : exit
})

// ---------------------------------------------------------------------------- plain JavaScript

/** An async function awaiting a Promise that the driver resolves: the JS floor with promises. */
export const asyncPromise = async (n: number): Promise<void> => {
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
export const generator = (n: number): void => {
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
