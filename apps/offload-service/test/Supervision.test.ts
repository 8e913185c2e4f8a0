/**
 * The engine's supervision of its worker threads, on both pools: a worker
 * that dies at start is respawned with exponential back-off and makes the
 * engine (and the service's `/readyz`) unhealthy; a worker that crashes
 * mid-operation fails that operation, and its job, with a typed error; no
 * thread outlives the engine's scope.
 */
import { describe, it, layer } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as ServiceConfig from "../src/config.js"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import { killWorkerUnsafe } from "../src/engine/make.js"
import * as Server from "../src/http/server.js"
import * as Jobs from "../src/jobs/Jobs.js"
import * as Memory from "../src/jobs/memory.js"
import { call, pollUntil } from "./utils/http.js"
import { trackWorkers } from "./utils/workers.js"

const keys = await Effect.runPromise(CryptoEngine.generateKeys)

/** Worker scripts that exit at start while CRYPTO_WORKER_EXIT_AT_START is set, one per pool's protocol. */
const exitAtStart: Record<CryptoEngine.Pool, URL> = {
  "hand-made": new URL("./fixtures/workers/exitAtStartHandMade.js", import.meta.url),
  platform: new URL("./fixtures/workers/exitAtStartPlatform.js", import.meta.url)
}

/** Sets CRYPTO_WORKER_EXIT_AT_START for the workers spawned from now on, until the scope closes (or `clear`). */
const exitingAtStart = Effect.acquireRelease(
  Effect.sync(() => {
    process.env.CRYPTO_WORKER_EXIT_AT_START = "1"
    return { clear: () => delete process.env.CRYPTO_WORKER_EXIT_AT_START }
  }),
  ({ clear }) => Effect.sync(clear)
)

/** Waits, on the real clock, until `condition` holds: worker threads start and exit in real time. */
const waitUntil = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition()
      ? Effect.void
      : Effect.andThen(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5))), waitUntil(condition))
  )

/**
 * The test's clock, recording the instant each sleep on it wakes at: the engine, run on it, says so when its
 * back-off starts to wait. (effect 4's TestClock does not list its pending sleeps.)
 */
const recordingClock = TestClock.testClockWith((clock) =>
  Effect.sync(() => {
    const wakes: Array<number> = []
    const recording: Clock.Clock = {
      currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
      currentTimeMillis: clock.currentTimeMillis,
      currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
      currentTimeNanos: clock.currentTimeNanos,
      monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: clock.monotonicTimeNanos,
      sleep: (duration) =>
        Effect.suspend(() => {
          wakes.push(clock.currentTimeMillisUnsafe() + Duration.toMillis(duration))
          return clock.sleep(duration)
        })
    }
    /**
     * Waits until a sleep that wakes at `instant` (the engine's next start) has begun. The platform's own worker
     * code also sleeps (a respawn every second, a 5 s exit timeout; both interrupted when the engine closes the
     * worker's scope), so the back-off below uses instants that none of those reach.
     */
    const sleepPending = (instant: number) => waitUntil(() => wakes.includes(instant))
    return { recording, sleepPending }
  })
)

const failureTag = <A>(exit: Exit.Exit<A, { readonly _tag: string }>) =>
  Exit.isFailure(exit)
    ? Option.getOrUndefined(Option.map(Cause.findErrorOption(exit.cause), (e) => e._tag))
    : undefined

for (const pool of ["hand-made", "platform"] as const) {
  describe(`${pool} pool`, () => {
    it.effect("a worker that dies at start is respawned with exponential back-off, then reported unhealthy", () =>
      Effect.gen(function*() {
        const env = yield* exitingAtStart
        const { recording, sleepPending } = yield* recordingClock
        const workers = trackWorkers()
        const scope = yield* Scope.make()
        const engine = yield* Scope.provide(scope)(
          CryptoEngine.make({
            threads: 1,
            keys,
            pool,
            workerScript: exitAtStart[pool],
            restart: { base: "1500 millis", max: "6 seconds", unhealthyAfter: 3 },
            onWorkerSpawn: workers.onWorkerSpawn
          }).pipe(Effect.provideService(Clock.Clock, recording))
        )
        const failures = () => engine.statsUnsafe().workerStartFailures
        // make returns once the first start failed (at 0); the next one is due 1.5 s later
        deepStrictEqual([workers.spawned.length, failures()], [1, 1])
        deepStrictEqual(engine.healthUnsafe(), { _tag: "Healthy" })
        yield* sleepPending(1500)
        yield* TestClock.adjust("1499 millis")
        yield* sleepPending(1500)
        strictEqual(workers.spawned.length, 1)
        yield* TestClock.adjust("1 millis")
        yield* waitUntil(() => failures() === 2)
        strictEqual(workers.spawned.length, 2)
        // then twice as long: 3 s
        yield* sleepPending(4500)
        yield* TestClock.adjust("2999 millis")
        strictEqual(workers.spawned.length, 2)
        yield* TestClock.adjust("1 millis")
        yield* waitUntil(() => failures() === 3)
        strictEqual(workers.spawned.length, 3)
        // the third failed start in a row: unhealthy, and requests fail at once rather than wait
        const health = engine.healthUnsafe()
        assertTrue(health._tag === "Unhealthy")
        if (health._tag === "Unhealthy") {
          strictEqual(health.failedStarts, 3)
          assertTrue(health.reason.includes("failed to start 3 times in a row"))
          assertTrue(health.reason.includes("exited with code 3"))
        }
        strictEqual(failureTag(yield* Effect.exit(engine.run({ op: "sha256", data: "abc" }))), "EngineUnavailableError")
        // 6 s, then at most 6 s (the cap), not 12
        yield* sleepPending(10500)
        yield* TestClock.adjust("6 seconds")
        yield* waitUntil(() => failures() === 4)
        strictEqual(workers.spawned.length, 4)
        yield* sleepPending(16500)
        // the worker starts again: healthy, and serving
        env.clear()
        yield* TestClock.adjust("6 seconds")
        yield* waitUntil(() => engine.healthUnsafe()._tag === "Healthy")
        strictEqual(workers.spawned.length, 5)
        deepStrictEqual(yield* engine.run({ op: "sha256", data: "abc" }), {
          op: "sha256",
          digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        })
        deepStrictEqual([engine.statsUnsafe().workerStartFailures, engine.statsUnsafe().workerCrashes], [4, 0])
        // no thread outlives the scope
        yield* Scope.close(scope, Exit.void)
        deepStrictEqual(workers.alive(), [])
      }))

    it.effect("a worker crash mid-operation fails the operation, the worker is replaced, no thread is left", () =>
      Effect.gen(function*() {
        const workers = trackWorkers()
        const scope = yield* Scope.make()
        const engine = yield* Scope.provide(scope)(
          CryptoEngine.make({ threads: 1, keys, pool, onWorkerSpawn: workers.onWorkerSpawn })
        )
        const running = yield* Effect.forkChild(engine.run({ op: "scrypt", password: "p", salt: "s", N: 65536 }))
        yield* waitUntil(() => engine.statsUnsafe().inFlight === 1)
        const crashed = killWorkerUnsafe(engine, 0)
        const exit = yield* Fiber.await(running)
        strictEqual(failureTag(exit), "WorkerCrashedError")
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        assertTrue(
          Option.isSome(error) && error.value._tag === "WorkerCrashedError" && error.value.threadId === crashed
        )
        // the replacement serves
        strictEqual((yield* engine.run({ op: "sha256", data: "abc" })).op, "sha256")
        strictEqual(workers.spawned.length, 2)
        deepStrictEqual(workers.exited, [crashed])
        strictEqual(engine.statsUnsafe().workerCrashes, 1)
        yield* Scope.close(scope, Exit.void)
        deepStrictEqual(workers.alive(), [])
      }))

    it.effect("a job whose worker crashes fails with WorkerCrashedError, and is not stranded", () =>
      Effect.gen(function*() {
        const workers = trackWorkers()
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          Layer.provideMerge(
            Memory.layerConfig,
            Layer.merge(
              Layer.effect(
                CryptoEngine.CryptoEngine,
                CryptoEngine.make({ threads: 1, keys, pool, onWorkerSpawn: workers.onWorkerSpawn })
              ),
              ServiceConfig.layer({ port: 0 })
            )
          ),
          scope
        )
        const jobs = Layer.succeedContext(context)
        const engine = yield* Effect.provide(CryptoEngine.CryptoEngine, jobs)
        const running = yield* Effect.forkChild(
          Effect.flatMap(Jobs.Jobs, (jobs) => jobs.run({ op: "scrypt", password: "p", salt: "s", N: 65536 })).pipe(
            Effect.provide(jobs)
          )
        )
        yield* waitUntil(() => engine.statsUnsafe().inFlight === 1)
        killWorkerUnsafe(engine, 0)
        const view = yield* Fiber.join(running)
        strictEqual(view.state, "failed")
        strictEqual(view.error?.tag, "WorkerCrashedError")
        const stats = yield* Effect.flatMap(Jobs.Jobs, (jobs) => jobs.stats).pipe(Effect.provide(jobs))
        deepStrictEqual([stats.running, stats.paused, stats.failed], [0, 0, 1])
        // the crashed worker is replaced (its thread's exit awaited first, so the replacement comes a moment later)
        yield* waitUntil(() => workers.spawned.length === 2)
        yield* Scope.close(scope, Exit.void)
        deepStrictEqual(workers.alive(), [])
        strictEqual(workers.spawned.length, 2)
      }))
  })
}

describe("the service with an engine whose workers die at start", () => {
  const workers = trackWorkers()
  const TestServer = Server.layer.pipe(
    Layer.provide(Layer.effect(
      CryptoEngine.CryptoEngine,
      Effect.andThen(
        exitingAtStart,
        CryptoEngine.make({
          threads: 1,
          keys,
          workerScript: exitAtStart["hand-made"],
          restart: { base: "10 millis", max: "200 millis", unhealthyAfter: 2 },
          onWorkerSpawn: workers.onWorkerSpawn
        })
      )
    )),
    Layer.provide(ServiceConfig.layer({ port: 0 }))
  )

  layer(TestServer, { excludeTestServices: true })((it) => {
    it.effect("/readyz answers 503 EngineUnavailable saying why; /healthz still answers 200; jobs fail, typed", () =>
      Effect.gen(function*() {
        const url = yield* Server.url
        const ready = yield* pollUntil(call(url, "GET", "/readyz"), (reply) => reply.status !== 200)
        strictEqual(ready.status, 503)
        deepStrictEqual(Object.keys(ready.body), ["error"])
        strictEqual(ready.body.error.tag, "EngineUnavailable")
        assertTrue(ready.body.error.message.includes("failed to start"))
        assertTrue(ready.body.error.message.includes("exited with code 3"))
        const health = yield* call(url, "GET", "/healthz")
        deepStrictEqual([health.status, health.body], [200, { status: "ok" }])
        const job = yield* call(url, "POST", "/jobs?wait=true", { op: "sha256", data: "abc" })
        strictEqual(job.status, 200)
        deepStrictEqual([job.body.state, job.body.error?.tag], ["failed", "EngineUnavailableError"])
      }))
  })
})
