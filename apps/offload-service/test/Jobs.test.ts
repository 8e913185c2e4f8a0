/**
 * Paused jobs, cancellation, the pool limit, retention and shutdown, through
 * a real server on an ephemeral loopback port. The engine answers only when
 * a test releases a request (ManualEngine), so jobs stay paused as long as a
 * test needs, with no timing involved.
 */
import * as JobObserver from "@async-job/core/JobObserver"
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as ServiceConfig from "../src/config.js"
import * as Server from "../src/http/server.js"
import * as Jobs from "../src/jobs/Jobs.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { ask, awaitEnded, call, connectionRefused, errorShape, openConnection, pollUntil } from "./utils/http.js"

const TestServer = (overrides: Partial<ServiceConfig.ServiceConfig> = {}) =>
  Server.layer.pipe(
    Layer.provideMerge(ManualEngine.layer),
    // no grace at shutdown: paused jobs are cancelled at once (the grace is tested in Shutdown.test.ts)
    Layer.provide(ServiceConfig.layer({ port: 0, shutdownGrace: Duration.zero, ...overrides }))
  )

/** The server's URL, the engine, the jobs. */
const env = Effect.gen(function*() {
  return {
    url: yield* Server.url,
    engine: yield* ManualEngine.ManualEngine,
    jobs: yield* Jobs.Jobs
  }
})

const sha = { op: "sha256", data: "abc" }

describe("paused jobs", () => {
  it.live("a job pauses on the engine and finishes when the engine answers", () =>
    Effect.gen(function*() {
      const { engine, jobs, url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", sha)
      strictEqual(accepted.status, 202)
      deepStrictEqual(accepted.body, { id: accepted.body.id, state: "paused" })
      deepStrictEqual((yield* call(url, "GET", `/jobs/${accepted.body.id}`)).body, {
        id: accepted.body.id,
        op: "sha256",
        state: "paused"
      })
      const stats = (yield* call(url, "GET", "/stats")).body
      deepStrictEqual([stats.running, stats.paused, stats.created], [0, 1, 1])
      const [request] = engine.pendingIds()
      yield* engine.release(request!)
      const ended = yield* awaitEnded(url, accepted.body.id)
      deepStrictEqual(ended.body.result, { op: "sha256", digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" })
      const after = (yield* call(url, "GET", "/stats")).body
      deepStrictEqual([after.running, after.paused, after.idle, after.finished], [0, 0, 1, 1])
      // the job's wait ctx closed with the job: its fd's cleanup ran once
      strictEqual((yield* jobs.housekeeping).fdCleanups, 1)
    }).pipe(Effect.provide(TestServer())))

  it.live("an engine failure fails the job, with the engine's error", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", sha)
      engine.fail(engine.pendingIds()[0]!, "no such digest")
      const ended = yield* awaitEnded(url, accepted.body.id)
      deepStrictEqual(ended.body, {
        id: accepted.body.id,
        op: "sha256",
        state: "failed",
        error: { tag: "OperationFailedError", message: "no such digest" }
      })
      strictEqual((yield* call(url, "GET", "/stats")).body.failed, 1)
    }).pipe(Effect.provide(TestServer())))

  it.live("?wait=true answers once the engine has answered", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const waiting = yield* Effect.forkChild(call(url, "POST", "/jobs?wait=true", sha))
      // the job is paused on the engine while the request waits
      yield* Effect.repeat(Effect.sync(() => engine.pendingIds().length), {
        until: (n) => n === 1,
        schedule: Schedule.spaced("5 millis")
      })
      strictEqual((yield* call(url, "GET", "/stats")).body.paused, 1)
      yield* engine.release(engine.pendingIds()[0]!)
      const reply = yield* Fiber.join(waiting)
      strictEqual(reply.status, 200)
      strictEqual(reply.body.state, "finished")
      strictEqual(reply.body.result.op, "sha256")
    }).pipe(Effect.provide(TestServer())))
})

describe("the order of events", () => {
  const recorded = () => {
    const events: Array<string> = []
    const observer = JobObserver.layer((event) => {
      events.push(event._tag === "Ended" ? `Ended(${event.outcome})` : event._tag)
    })
    return { events, observer }
  }

  it.live("a finished job: start, pause, resume, end, then its wait ctx closes and cleans its fd", () => {
    const { events, observer } = recorded()
    return Effect.gen(function*() {
      const { engine, url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", sha)
      yield* engine.release(engine.pendingIds()[0]!)
      yield* awaitEnded(url, accepted.body.id)
      deepStrictEqual(events, ["Started", "Paused", "Resumed", "Ended(finished)", "CleanupRan", "WaitCtxClosed"])
    }).pipe(Effect.provide(TestServer().pipe(Layer.provide(observer))))
  })

  it.live("a cancelled job: start, pause, cancel, end, then its wait ctx closes and cleans its fd", () => {
    const { events, observer } = recorded()
    return Effect.gen(function*() {
      const { url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", sha)
      yield* call(url, "DELETE", `/jobs/${accepted.body.id}`)
      deepStrictEqual(events, [
        "Started",
        "Paused",
        "CancelRequested",
        "Ended(cancelled)",
        "CleanupRan",
        "WaitCtxClosed"
      ])
    }).pipe(Effect.provide(TestServer().pipe(Layer.provide(observer))))
  })
})

describe("cancel", () => {
  it.live("DELETE on a paused job: 200 cancelled, engine request dropped, fd cleaned up", () =>
    Effect.gen(function*() {
      const { engine, jobs, url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", { op: "scrypt", password: "p", salt: "s", N: 65536 })
      const id = accepted.body.id
      strictEqual(engine.pendingIds().length, 1)
      strictEqual((yield* jobs.housekeeping).fdCleanups, 0)
      const reply = yield* call(url, "DELETE", `/jobs/${id}`)
      strictEqual(reply.status, 200)
      deepStrictEqual(reply.body, { id, state: "cancelled" })
      deepStrictEqual((yield* call(url, "GET", `/jobs/${id}`)).body, { id, op: "scrypt", state: "cancelled" })
      deepStrictEqual(engine.statsUnsafe(), {
        queued: 0,
        queuedBytes: 0,
        inFlight: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 1,
        workerCrashes: 0,
        workerStartFailures: 0
      })
      deepStrictEqual(yield* jobs.housekeeping, { fdCleanups: 1, retained: 1, outstanding: 0, queuedBytes: 0 })
      const stats = (yield* call(url, "GET", "/stats")).body
      deepStrictEqual([stats.running, stats.paused, stats.idle, stats.cancelled], [0, 0, 1, 1])
      // a second DELETE answers the same
      deepStrictEqual((yield* call(url, "DELETE", `/jobs/${id}`)).body, { id, state: "cancelled" })
      strictEqual(engine.statsUnsafe().cancelled, 1)
    }).pipe(Effect.provide(TestServer())))

  it.live("DELETE on a finished job answers 409", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const accepted = yield* call(url, "POST", "/jobs", sha)
      yield* engine.release(engine.pendingIds()[0]!)
      yield* awaitEnded(url, accepted.body.id)
      const reply = yield* call(url, "DELETE", `/jobs/${accepted.body.id}`)
      strictEqual(reply.status, 409)
      strictEqual(errorShape(reply).tag, "JobEnded")
      strictEqual(engine.statsUnsafe().cancelled, 0)
    }).pipe(Effect.provide(TestServer())))
})

describe("?wait=true clients", () => {
  it.live("a client that disconnects while waiting gets its job cancelled (engine request dropped, fd cleaned up)", () =>
    Effect.gen(function*() {
      const { engine, jobs, url } = yield* env
      const controller = new AbortController()
      const request = fetch(new URL("/jobs?wait=true", url), {
        method: "POST",
        body: JSON.stringify(sha),
        headers: { "content-type": "application/json" },
        signal: controller.signal
      }).catch(() => undefined)
      yield* pollUntil(Effect.sync(() => engine.pendingIds().length), (n) => n === 1)

      controller.abort()
      yield* Effect.promise(() => request)

      const stats = yield* pollUntil(
        Effect.map(call(url, "GET", "/stats"), (reply) => reply.body),
        (stats) => stats.cancelled === 1
      )
      deepStrictEqual([stats.paused, stats.running, stats.finished], [0, 0, 0])
      strictEqual(engine.statsUnsafe().cancelled, 1)
      strictEqual((yield* jobs.housekeeping).fdCleanups, 1)
    }).pipe(Effect.provide(TestServer())))
})

describe("the pool limit", () => {
  it.live("POOL_MAX=2: a third job answers 503 with Retry-After, and nothing is queued", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const first = yield* call(url, "POST", "/jobs", sha)
      const second = yield* call(url, "POST", "/jobs", sha)
      deepStrictEqual([first.status, second.status], [202, 202])
      const refused = yield* call(url, "POST", "/jobs", sha)
      strictEqual(refused.status, 503)
      strictEqual(refused.headers.get("retry-after"), "1")
      strictEqual(errorShape(refused).tag, "NoJobs")
      // the refused request never reached the engine
      strictEqual(engine.pendingIds().length, 2)
      const waitRefused = yield* call(url, "POST", "/jobs?wait=true", sha)
      strictEqual(waitRefused.status, 503)
      const stats = (yield* call(url, "GET", "/stats")).body
      deepStrictEqual(stats, {
        maxSize: 2,
        created: 2,
        idle: 0,
        running: 0,
        paused: 2,
        finished: 0,
        failed: 0,
        cancelled: 0,
        noJobs: 2
      })
      // a finished job frees its slot
      yield* engine.release(engine.pendingIds()[0]!)
      yield* awaitEnded(url, first.body.id)
      strictEqual((yield* call(url, "POST", "/jobs", sha)).status, 202)
    }).pipe(Effect.provide(TestServer({ poolMax: 2 }))))
})

describe("retention", () => {
  it.live("RESULT_MAX=1: the older ended job is forgotten", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const first = yield* call(url, "POST", "/jobs", sha)
      const second = yield* call(url, "POST", "/jobs", sha)
      for (const id of engine.pendingIds()) yield* engine.release(id)
      yield* awaitEnded(url, second.body.id)
      yield* awaitEnded(url, first.body.id)
      const states = [
        (yield* call(url, "GET", `/jobs/${first.body.id}`)).status,
        (yield* call(url, "GET", `/jobs/${second.body.id}`)).status
      ]
      // exactly one of the two is kept: the one that ended last
      deepStrictEqual(states.sort(), [200, 404])
    }).pipe(Effect.provide(TestServer({ resultMax: 1 }))))

  it.live("RESULT_TTL=0: an ended job is forgotten at once, and ?wait=true still gets its result", () =>
    Effect.gen(function*() {
      const { engine, jobs, url } = yield* env
      const waiting = yield* Effect.forkChild(call(url, "POST", "/jobs?wait=true", sha))
      yield* Effect.repeat(Effect.sync(() => engine.pendingIds().length), {
        until: (n) => n === 1,
        schedule: Schedule.spaced("5 millis")
      })
      yield* engine.release(engine.pendingIds()[0]!)
      const reply = yield* Fiber.join(waiting)
      strictEqual(reply.body.state, "finished")
      strictEqual((yield* call(url, "GET", `/jobs/${reply.body.id}`)).status, 404)
      strictEqual((yield* jobs.housekeeping).retained, 0)
    }).pipe(Effect.provide(TestServer({ resultTtl: Duration.zero }))))
})

describe("shutdown", () => {
  it.live("during SHUTDOWN_GRACE: the port is closed at once; a request in progress that starts a job answers 503 ShuttingDown, one waiting for its job gets its end", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(TestServer({ shutdownGrace: Duration.minutes(5) }), scope)
      const { engine, url } = yield* Effect.provide(env, context)
      const port = Number(new URL(url).port)
      const accepted = yield* call(url, "POST", "/jobs", sha)
      strictEqual(accepted.status, 202)
      const waiting = yield* Effect.forkChild(call(url, "POST", "/jobs?wait=true", sha))
      yield* pollUntil(Effect.sync(() => engine.pendingIds().length), (n) => n === 2)
      // an upload in progress: its headers and half its body sent before the shutdown
      const text = JSON.stringify(sha)
      const head = `POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${text.length}\r\n\r\n`
      const uploading = yield* openConnection("127.0.0.1", port, `${head}${text.slice(0, 5)}`)

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* pollUntil(connectionRefused("127.0.0.1", port), (refused) => refused)
      const refused = yield* ask(uploading, text.slice(5))
      deepStrictEqual([refused.status, refused.body.error.tag], [503, "ShuttingDown"])
      strictEqual(refused.headers["connection"], "close")

      // the job ends within the grace: shutdown goes on without cancelling it
      for (const id of engine.pendingIds()) yield* engine.release(id)
      const reply = yield* Fiber.join(waiting)
      deepStrictEqual([reply.status, reply.body.state], [200, "finished"])
      yield* Fiber.join(closing)
      strictEqual(engine.statsUnsafe().cancelled, 0)
      strictEqual(engine.statsUnsafe().succeeded, 2)
    }))

  it.live("closing the service cancels paused jobs, cleans their fds, answers waiters, and closes the port", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(TestServer(), scope)
      const { engine, jobs, url } = yield* Effect.provide(env, context)
      const address = Context.get(context, HttpServer.HttpServer).address
      const port = "port" in address ? address.port : 0
      for (let i = 0; i < 3; i++) strictEqual((yield* call(url, "POST", "/jobs", sha)).status, 202)
      const waiting = yield* Effect.forkChild(call(url, "POST", "/jobs?wait=true", sha))
      yield* Effect.repeat(Effect.sync(() => engine.pendingIds().length), {
        until: (n) => n === 4,
        schedule: Schedule.spaced("5 millis")
      })
      strictEqual((yield* call(url, "GET", "/stats")).body.paused, 4)

      yield* Scope.close(scope, Exit.void)

      const reply = yield* Fiber.join(waiting)
      strictEqual(reply.status, 200)
      strictEqual(reply.body.state, "cancelled")
      // responses during shutdown close their connection
      strictEqual(reply.headers.get("connection"), "close")
      strictEqual(engine.statsUnsafe().cancelled, 4)
      deepStrictEqual(yield* jobs.housekeeping, { fdCleanups: 4, retained: 4, outstanding: 0, queuedBytes: 0 })
      assertFalse(yield* jobs.isAccepting)
      assertTrue(yield* connectionRefused("127.0.0.1", port))
    }))
})
