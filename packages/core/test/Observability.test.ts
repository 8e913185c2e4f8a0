/** Spans named after the operations, and the metrics every pool reports. */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect, Exit, Layer, Metric, Option, Scope, Tracer } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import * as JobMetrics from "../src/JobMetrics.js"
import * as JobObserver from "../src/JobObserver.js"
import * as JobPool from "../src/JobPool.js"
import { pausedJob } from "./utils.js"

const recordingTracer = (names: Array<string>) =>
  Effect.map(Effect.tracer, (base) =>
    Tracer.make({
      span(options) {
        names.push(options.name)
        return base.span(options)
      },
      context: base.context
    }))

describe("observability", () => {
  it.effect("spans are off with the tracer disabled", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const tracer = yield* recordingTracer(names)
      const pool = yield* JobPool.make()
      yield* Effect.gen(function*() {
        yield* pool.resume(yield* pausedJob(yield* pool.start(AsyncJob.pause)))
      }).pipe(Effect.withTracer(tracer), Effect.withTracerEnabled(false))
      deepStrictEqual(names, [])
      yield* Effect.gen(function*() {
        yield* pool.resume(yield* pausedJob(yield* pool.start(AsyncJob.pause)))
      }).pipe(Effect.withTracer(tracer))
      deepStrictEqual(names, ["AsyncJob.start", "AsyncJob.resume"])
    }))

  it.effect("AsyncJob operations open spans named after them", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const tracer = yield* recordingTracer(names)
      yield* Effect.gen(function*() {
        const job = yield* pausedJob(yield* AsyncJob.start(AsyncJob.pause))
        yield* AsyncJob.resume(job)
        const other = yield* pausedJob(yield* AsyncJob.start(AsyncJob.pause))
        yield* AsyncJob.cancel(other)
        yield* AsyncJob.run(Effect.void)
      }).pipe(Effect.withTracer(tracer), Effect.provide(JobPool.layer()))
      deepStrictEqual(names, [
        "AsyncJob.start",
        "AsyncJob.resume",
        "AsyncJob.start",
        "AsyncJob.cancel",
        "AsyncJob.run",
        // run's own start, as a child span
        "AsyncJob.start"
      ])
    }))

  it.effect("spans opened inside a job are children of the start or resume span that ran them", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span(options) {
          const span = base.span(options)
          spans.push(span)
          return span
        },
        context: base.context
      })
      const body = Effect.gen(function*() {
        yield* Effect.withSpan(Effect.void, "segment 1")
        yield* AsyncJob.pause
        yield* Effect.withSpan(Effect.void, "segment 2")
        // a pause inside a span of the job's own keeps that span the parent after the resume
        yield* Effect.withSpan(
          Effect.andThen(AsyncJob.pause, Effect.withSpan(Effect.void, "inside own span")),
          "own span"
        )
      })
      yield* Effect.gen(function*() {
        const job = yield* pausedJob(yield* AsyncJob.start(body))
        yield* AsyncJob.resume(job)
        yield* AsyncJob.resume(job)
      }).pipe(Effect.withSpan("caller"), Effect.withTracer(tracer), Effect.provide(JobPool.layer()))
      const named = (name: string, nth = 0) => spans.filter((span) => span.name === name)[nth]!
      const parentOf = (name: string) => Option.getOrUndefined(named(name).parent)
      strictEqual(parentOf("AsyncJob.start"), named("caller"))
      strictEqual(parentOf("segment 1"), named("AsyncJob.start"))
      strictEqual(parentOf("segment 2"), named("AsyncJob.resume", 0))
      strictEqual(parentOf("own span"), named("AsyncJob.resume", 0))
      strictEqual(parentOf("inside own span"), named("own span"))
    }))

  it.effect("counters and gauges count every pool's jobs, with no label per pool", () =>
    Effect.gen(function*() {
      const count = (metric: Metric.Counter<number>, attributes: Metric.Metric.AttributeSet = {}) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, attributes)), (state) => state.count)
      const gauge = (metric: Metric.Gauge<number>) => Effect.map(Metric.value(metric), (state) => state.value)
      const counters = Effect.all([
        count(JobMetrics.starts),
        count(JobMetrics.pauses),
        count(JobMetrics.resumes),
        count(JobMetrics.noJobs),
        count(JobMetrics.cancellations),
        count(JobMetrics.finishes, { outcome: "finished" }),
        count(JobMetrics.finishes, { outcome: "cancelled" })
      ])
      const gauges = Effect.all([gauge(JobMetrics.running), gauge(JobMetrics.paused), gauge(JobMetrics.idle)])
      const before = yield* counters
      const [, pausedBefore, idleBefore] = yield* gauges

      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 1 }), scope)
      const job = yield* pausedJob(yield* pool.start(AsyncJob.pause))
      strictEqual((yield* gauges)[1], pausedBefore + 1)
      yield* Effect.flip(pool.start(Effect.void))
      yield* pool.resume(job)
      const cancelled = yield* pausedJob(yield* pool.start(AsyncJob.pause))
      yield* pool.cancel(cancelled)
      const after = yield* counters
      deepStrictEqual(after.map((n, i) => n - before[i]!), [2, 2, 1, 1, 1, 1, 1])
      deepStrictEqual((yield* gauges).slice(1), [pausedBefore, idleBefore + 1])
      // a closed pool takes its idle records out of the gauge
      yield* Scope.close(scope, Exit.void)
      strictEqual((yield* gauges)[2], idleBefore)
    }))

  it.effect("a JobObserver in context sees every event in order", () =>
    Effect.gen(function*() {
      const events: Array<JobObserver.JobEvent> = []
      const pool = yield* JobPool.make({ maxSize: 1 }).pipe(
        Effect.provide(JobObserver.layer((event) => events.push(event)))
      )
      const job = yield* pausedJob(yield* pool.start(AsyncJob.pause))
      yield* Effect.flip(pool.start(Effect.void))
      yield* pool.resume(job)
      const id = job.id
      deepStrictEqual(events.map((e) => e._tag), ["Started", "Paused", "NoJobs", "Resumed", "Ended"])
      assertTrue(events.every((e) => !("jobId" in e) || e.jobId === id))
      strictEqual(yield* Effect.succeed(Layer.isLayer(JobObserver.layer(() => {}))), true)
    }))
})
