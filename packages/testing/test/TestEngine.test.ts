import { AsyncJob, JobObserver, JobPool, WaitCtx } from "@async-job/core"
import { EventRecorder, TestEngine } from "@async-job/testing"
import { expectFinished, expectPaused } from "@async-job/testing/JobPoolSuite"
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"

// the code under test: it does not know it talks to a fake engine
const sign = (message: string) => TestEngine.submit<string>("sign", message)
const handshake = Effect.gen(function*() {
  const a = yield* sign("client hello")
  const b = yield* sign("server hello")
  return `${a}+${b}`
})

const TestLayers = JobPool.layer({ maxSize: 4 }).pipe(
  Layer.provideMerge(EventRecorder.layer),
  Layer.merge(TestEngine.layer())
)

describe("TestEngine", () => {
  describe("fd mode", () => {
    it.effect("registers one stable fd per wait ctx and signals it on completion (S12)", () =>
      Effect.gen(function*() {
        const ctxScope = yield* Scope.make()
        const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)
        const job = expectPaused(yield* AsyncJob.start(handshake, { waitCtx: ctx }))
        const [fd] = yield* WaitCtx.getAllFds(ctx)
        assertTrue(fd !== undefined)
        deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [fd], deleted: [] })
        strictEqual(yield* TestEngine.openFds, 1)

        yield* TestEngine.complete(1, "sig1")
        yield* WaitCtx.awaitReady(ctx)
        expectPaused(yield* AsyncJob.resume(job))
        deepStrictEqual(yield* WaitCtx.getAllFds(ctx), [fd])
        deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [] })

        yield* TestEngine.complete(2, "sig2")
        strictEqual(expectFinished(yield* AsyncJob.resume(job)), "sig1+sig2")
        // the registration outlives the job, until the ctx closes
        deepStrictEqual(yield* WaitCtx.getAllFds(ctx), [fd])
        yield* Scope.close(ctxScope, Exit.void)
        strictEqual(yield* TestEngine.openFds, 0)

        const submissions = yield* TestEngine.submissions
        deepStrictEqual(submissions.map((s) => [s.id, s.name, s.input, s.mode, s.state, s.jobId]), [
          [1, "sign", "client hello", "fd", "completed", job.id],
          [2, "sign", "server hello", "fd", "completed", job.id]
        ])
        deepStrictEqual(yield* EventRecorder.takeLines, [
          "Started p1 j1",
          "Paused p1 j1",
          "Resumed p1 j1",
          "Paused p1 j1",
          "Resumed p1 j1",
          "Ended p1 j1 finished",
          `CleanupRan w1 ${String(yield* Effect.map(TestEngine.TestEngine, (e) => e.key.description))} f1`,
          "WaitCtxClosed w1"
        ])
      }).pipe(Effect.provide(TestLayers)))

    it.effect("a resume before completion is only a hint: the job pauses again", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        expectPaused(yield* AsyncJob.resume(job))
        expectPaused(yield* AsyncJob.resume(job))
        yield* TestEngine.complete(1, "done")
        strictEqual(expectFinished(yield* AsyncJob.resume(job)), "done")
        const [submission] = yield* TestEngine.submissions
        strictEqual(submission!.pauses, 3)
      }).pipe(Effect.provide(TestLayers)))

    it.effect("fail makes submit fail with OperationFailedError", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        yield* TestEngine.fail(1, "device lost")
        const error = yield* Effect.flip(AsyncJob.resume(job))
        assertTrue(error._tag === "OperationFailedError")
        deepStrictEqual([error.id, error.name, error.error], [1, "sign", "device lost"])
        strictEqual(AsyncJob.stateUnsafe(job), "failed")
        strictEqual((yield* TestEngine.submissions)[0]!.state, "failed")
      }).pipe(Effect.provide(TestLayers)))

    it.effect("AsyncJob.run drives a job to its end as operations complete", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fiber = yield* Effect.forkChild(AsyncJob.run(handshake, { waitCtx: ctx }))
        const [first] = yield* TestEngine.awaitSubmissions(1)
        yield* TestEngine.complete(first!.id, "a")
        const all = yield* TestEngine.awaitSubmissions(2)
        yield* TestEngine.complete(all[1]!.id, "b")
        strictEqual(yield* Fiber.join(fiber), "a+b")
      }).pipe(Effect.provide(TestLayers)))

    it.effect("refused submissions (EAGAIN) make the job resubmit after a resume", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        yield* TestEngine.refuseNext(2)
        const fiber = yield* Effect.forkChild(AsyncJob.run(sign("m"), { waitCtx: ctx }))
        yield* TestEngine.awaitSubmissions(1)
        // the driver resumes the job on each refusal, then the third attempt is accepted
        yield* Effect.yieldNow.pipe(Effect.repeat({ times: 20 }))
        strictEqual((yield* TestEngine.submissions)[0]!.attempts, 3)
        yield* TestEngine.completeAll()
        strictEqual(yield* Fiber.join(fiber), "m")
      }).pipe(Effect.provide(TestLayers)))
  })

  describe("callback mode (§2.10)", () => {
    it.effect("status OK before pausing; the callback is called on completion; no fd", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const calls: Array<unknown> = []
        yield* WaitCtx.setCallback(ctx, (arg) => {
          calls.push(arg)
          return 1
        }, "conn-1")
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        strictEqual(yield* WaitCtx.getStatus(ctx), "ok")
        deepStrictEqual(yield* WaitCtx.getAllFds(ctx), [])
        deepStrictEqual(calls, [])
        yield* TestEngine.complete(1, "sig")
        deepStrictEqual(calls, ["conn-1"])
        yield* WaitCtx.awaitReady(ctx)
        strictEqual(expectFinished(yield* AsyncJob.resume(job)), "sig")
        strictEqual((yield* TestEngine.submissions)[0]!.mode, "callback")
        strictEqual(yield* TestEngine.openFds, 0)
      }).pipe(Effect.provide(TestLayers)))

    it.effect("a failure sets status ERR and does not call the callback", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        let calls = 0
        yield* WaitCtx.setCallback(ctx, () => ++calls)
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        yield* TestEngine.fail(1, "bad")
        strictEqual(yield* WaitCtx.getStatus(ctx), "err")
        strictEqual(calls, 0)
        yield* WaitCtx.awaitReady(ctx)
        strictEqual((yield* Effect.flip(AsyncJob.resume(job)))._tag, "OperationFailedError")
      }).pipe(Effect.provide(TestLayers)))

    it.effect("a refusal sets status EAGAIN; once resumed the job submits again", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        yield* WaitCtx.setCallback(ctx, () => 1)
        yield* TestEngine.refuseNext(1)
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        strictEqual(yield* WaitCtx.getStatus(ctx), "eagain")
        yield* WaitCtx.awaitReady(ctx)
        expectPaused(yield* AsyncJob.resume(job))
        strictEqual(yield* WaitCtx.getStatus(ctx), "ok")
        const [submission] = yield* TestEngine.pending
        deepStrictEqual([submission!.attempts, submission!.state], [2, "pending"])
        yield* TestEngine.complete(1, "x")
        strictEqual(expectFinished(yield* AsyncJob.resume(job)), "x")
      }).pipe(Effect.provide(TestLayers)))
  })

  describe("latency", () => {
    it.effect("operations complete by themselves after the latency, under TestClock", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fiber = yield* Effect.forkChild(AsyncJob.run(handshake, { waitCtx: ctx }))
        yield* TestEngine.awaitSubmissions(1)
        yield* TestClock.adjust("9 millis")
        assertTrue(fiber.pollUnsafe() === undefined)
        strictEqual((yield* TestEngine.pending).length, 1)
        yield* TestClock.adjust("1 millis")
        yield* TestEngine.awaitSubmissions(2)
        yield* TestClock.adjust("10 millis")
        strictEqual(yield* Fiber.join(fiber), "CLIENT HELLO+SERVER HELLO")
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.merge(
          JobPool.layer(),
          TestEngine.layer({ latency: "10 millis", respond: (s) => String(s.input).toUpperCase() })
        ))
      ))

    it.effect("a job whose pause is blocked waits for the operation on the spot", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fiber = yield* Effect.forkChild(AsyncJob.start(AsyncJob.withPauseBlocked(sign("m")), { waitCtx: ctx }))
        yield* TestEngine.awaitSubmissions(1)
        yield* TestClock.adjust("5 millis")
        deepStrictEqual(yield* Fiber.join(fiber), { _tag: "Finished", value: "m" })
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.merge(JobPool.layer(), TestEngine.layer({ latency: "5 millis" })))
      ))
  })

  describe("outside jobs and misuse", () => {
    it.effect("submit outside a job waits on the spot (synchronous fallback)", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(sign("plain"))
        const [submission] = yield* TestEngine.awaitSubmissions(1)
        deepStrictEqual([submission!.mode, submission!.jobId], ["sync", undefined])
        yield* TestEngine.complete(submission!.id, "ok")
        strictEqual(yield* Fiber.join(fiber), "ok")
      }).pipe(Effect.provide(TestEngine.layer())))

    it.effect("a job without a wait ctx is polled", () =>
      Effect.gen(function*() {
        const job = expectPaused(yield* AsyncJob.start(sign("m")))
        strictEqual((yield* TestEngine.submissions)[0]!.mode, "poll")
        strictEqual(yield* TestEngine.completeAll(), 1)
        strictEqual(expectFinished(yield* AsyncJob.resume(job)), "m")
      }).pipe(Effect.provide(TestLayers)))

    it.effect("complete and fail refuse unknown or settled operations", () =>
      Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        const unknown = yield* Effect.flip(TestEngine.complete(7, "x"))
        deepStrictEqual([unknown._tag, unknown.state], ["UnknownOperationError", "unknown"])
        yield* TestEngine.complete(1, "x")
        const settled = yield* Effect.flip(TestEngine.fail(1, "late"))
        strictEqual(settled.state, "completed")
        yield* AsyncJob.resume(job)
      }).pipe(Effect.provide(TestLayers)))

    it.effect("cancelling a job abandons its operation; closing the ctx releases the fd", () =>
      Effect.gen(function*() {
        const ctxScope = yield* Scope.make()
        const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)
        const job = expectPaused(yield* AsyncJob.start(sign("m"), { waitCtx: ctx }))
        yield* AsyncJob.cancel(job)
        deepStrictEqual((yield* TestEngine.submissions).map((s) => s.state), ["abandoned"])
        deepStrictEqual(yield* TestEngine.pending, [])
        strictEqual(yield* TestEngine.openFds, 1)
        yield* Scope.close(ctxScope, Exit.void)
        strictEqual(yield* TestEngine.openFds, 0)
        strictEqual((yield* Effect.flip(TestEngine.complete(1, "late"))).state, "abandoned")
      }).pipe(Effect.provide(TestLayers)))
  })
})

describe("EventRecorder", () => {
  it.effect("records a whole session in order, with renumbered ids", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      const a = expectPaused(yield* AsyncJob.start(sign("a"), { waitCtx: ctx }))
      const b = expectPaused(yield* AsyncJob.start(sign("b")))
      yield* AsyncJob.cancel(b)
      yield* TestEngine.completeAll()
      yield* AsyncJob.resume(a)
      deepStrictEqual(yield* EventRecorder.lines, [
        "Started p1 j1",
        "Paused p1 j1",
        "Started p1 j2",
        "Paused p1 j2",
        "CancelRequested p1 j2",
        "Ended p1 j2 cancelled",
        "Resumed p1 j1",
        "Ended p1 j1 finished"
      ])
      const events = yield* EventRecorder.events
      deepStrictEqual(events[0], { _tag: "Started", poolId: (yield* JobPool.JobPool).id, jobId: a.id })
      yield* EventRecorder.clear
      deepStrictEqual(yield* EventRecorder.events, [])
    }).pipe(Effect.provide(TestLayers)))

  it.effect("reports NoJobs and pool close", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { observer, recorder } = EventRecorder.makeUnsafe()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 1 }), scope).pipe(
        Effect.provideService(JobObserver.JobObserver, observer)
      )
      yield* pool.start(AsyncJob.pause)
      yield* Effect.flip(pool.start(AsyncJob.pause))
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual(yield* recorder.takeLines, [
        "Started p1 j1",
        "Paused p1 j1",
        "NoJobs p1",
        "Ended p1 j1 cancelled",
        "PoolClosed p1"
      ])
      deepStrictEqual(recorder.eventsUnsafe(), [])
    }))
})

describe("wiring by hand", () => {
  // a user who builds services without layers: TestEngine.make and the tags
  it.effect("TestEngine.make and the EventRecorder tag", () =>
    Effect.gen(function*() {
      const engine = yield* TestEngine.make()
      const recorder = yield* EventRecorder.EventRecorder
      const pool = yield* JobPool.JobPool
      const step = yield* pool.start(engine.submit<number>("add", 1))
      const job = expectPaused(step)
      yield* engine.fail(1, "overflow")
      const error = yield* Effect.flip(pool.resume(job))
      assertInstanceOf(error, TestEngine.OperationFailedError)
      strictEqual(error.message, "operation 1 (add) failed")
      const unknown = yield* Effect.flip(engine.complete(1, 2))
      assertInstanceOf(unknown, TestEngine.UnknownOperationError)
      deepStrictEqual(yield* recorder.takeLines, [
        "Started p1 j1",
        "Paused p1 j1",
        "Resumed p1 j1",
        "Ended p1 j1 failed"
      ])
      assertTrue(engine.key.description?.startsWith("TestEngine#"))
    }).pipe(Effect.provide(JobPool.layer().pipe(Layer.provideMerge(EventRecorder.layer)))))
})
