/**
 * A fake asynchronous offload engine, like OpenSSL's dummy async engine
 * (`dasync`) or a QAT card with nothing behind it: code under test submits
 * operations, and the test decides when each one completes.
 *
 * Inside a job, {@link TestEngine.submit} does what a real engine does:
 *
 * - **fd mode** (the job's wait ctx has no callback): registers one wait fd
 *   per wait ctx under the engine's key — created on first use, reused by
 *   every later operation on that ctx, cleaned up when the ctx closes — then
 *   pauses the job. Completion makes the fd readable.
 * - **callback mode** (a callback is set on the wait ctx): registers no fd,
 *   sets the status to `"ok"` before pausing, and on completion calls the
 *   callback through `WaitCtx.invokeCallback`. A failed operation sets the
 *   status to `"err"`; a refused submission ({@link TestEngine.refuseNext})
 *   sets `"eagain"`, and the job submits again when resumed.
 * - **poll mode** (a job without a wait ctx): pauses; the application
 *   resumes it until it finishes.
 *
 * A resume is only a hint: when the job is resumed before its operation has
 * completed, `submit` pauses again. Outside a job, `submit` waits for the
 * completion on the spot (OpenSSL's synchronous fallback).
 *
 * The test completes operations with {@link TestEngine.complete},
 * {@link TestEngine.fail} or {@link TestEngine.completeAll}, or gives the
 * layer a `latency` after which each operation completes by itself (under
 * `TestClock` in `it.effect`, advance it with `TestClock.adjust`).
 *
 * @example
 * ```ts
 * import { AsyncJob, JobPool, WaitCtx } from "@async-job/core"
 * import * as TestEngine from "@async-job/testing/TestEngine"
 * import { Effect, Fiber, Layer } from "effect"
 *
 * const sign = (message: string) =>
 *   TestEngine.submit<string>("sign", message)
 *
 * const program = Effect.gen(function*() {
 *   const ctx = yield* WaitCtx.make
 *   const fiber = yield* Effect.forkChild(
 *     AsyncJob.run(sign("hello"), { waitCtx: ctx })
 *   )
 *   const [op] = yield* TestEngine.awaitSubmissions(1)
 *   yield* TestEngine.complete(op!.id, "signature")
 *   return yield* Fiber.join(fiber) // "signature"
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(Layer.merge(JobPool.layer(), TestEngine.layer()))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/testEngine.js"

/**
 * How a submission notifies the application of its completion.
 *
 * - `"fd"`: through the engine's wait fd on the job's wait ctx;
 * - `"callback"`: through the wait ctx's callback and status;
 * - `"poll"`: not at all (a job without a wait ctx);
 * - `"sync"`: submitted outside a job, waited for on the spot.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "fd" | "callback" | "poll" | "sync"

/**
 * Where an operation is. `"abandoned"`: its job ended (was cancelled) before
 * the operation completed.
 *
 * @since 0.1.0
 * @category models
 */
export type SubmissionState = "pending" | "completed" | "failed" | "abandoned"

/**
 * What the engine recorded of one submitted operation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  /** Numbered from 1 per engine, in order of submission. */
  readonly id: number
  readonly name: string
  readonly input: unknown
  /** The job that submitted it; `undefined` outside a job. */
  readonly jobId: number | undefined
  /** The wait ctx of that job, if any. */
  readonly waitCtxId: number | undefined
  readonly mode: Mode
  readonly state: SubmissionState
  /** Submission attempts: 1, plus one per refusal ({@link TestEngine.refuseNext}). */
  readonly attempts: number
  /** How many times the job paused waiting for it. */
  readonly pauses: number
}

/**
 * The operation failed: the test called {@link TestEngine.fail} on it.
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationFailedError extends Data.TaggedError("OperationFailedError")<{
  readonly id: number
  readonly name: string
  readonly error: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `operation ${this.id} (${this.name}) failed`
  }
}

/**
 * `complete` or `fail` named an operation that does not exist or no longer
 * waits for a result.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownOperationError extends Data.TaggedError("UnknownOperationError")<{
  readonly id: number
  readonly state: SubmissionState | "unknown"
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `operation ${this.id} cannot be settled (${this.state})`
  }
}

/**
 * The engine's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Each accepted operation completes by itself after this long, with the
   * value of `respond`. Measured with the `Clock`, so `TestClock` controls it.
   */
  readonly latency?: Duration.Input | undefined
  /**
   * The value an operation completes with when the test does not give one
   * (latency, `completeAll()`). Default: the operation's input.
   */
  readonly respond?: ((submission: Submission) => unknown) | undefined
}

/**
 * The engine service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestEngine {
  /**
   * Submits an operation and waits for its result: inside a job by pausing
   * (see the module documentation), outside a job on the spot. The type
   * parameter is the result type the caller expects.
   */
  readonly submit: <A = unknown>(name: string, input?: unknown) => Effect.Effect<A, OperationFailedError>
  /** Completes a pending operation with `value` and notifies its job's application. */
  readonly complete: (id: number, value: unknown) => Effect.Effect<void, UnknownOperationError>
  /** Fails a pending operation: its `submit` fails with {@link OperationFailedError}. */
  readonly fail: (id: number, error: unknown) => Effect.Effect<void, UnknownOperationError>
  /**
   * Completes every pending operation, with `value(submission)` or else the
   * `respond` option; succeeds with how many were completed.
   */
  readonly completeAll: (value?: (submission: Submission) => unknown) => Effect.Effect<number>
  /** The next `count` submission attempts are refused as if the ring were full (`EAGAIN`). */
  readonly refuseNext: (count: number) => Effect.Effect<void>
  /** Every submission so far, oldest first. */
  readonly submissions: Effect.Effect<ReadonlyArray<Submission>>
  /** The submissions still waiting for a result. */
  readonly pending: Effect.Effect<ReadonlyArray<Submission>>
  /**
   * Waits until at least `count` operations have been submitted; succeeds with all of them. A waiter goes on
   * once an operation is accepted (after any refusals) and the job that submitted it has gone as far as it
   * can, typically to its pause: completing the operation then resumes the job.
   */
  readonly awaitSubmissions: (count: number) => Effect.Effect<ReadonlyArray<Submission>>
  /** How many wait fds the engine has registered whose wait ctx has not closed yet. */
  readonly openFds: Effect.Effect<number>
  /** The key the engine registers its wait fds under (one engine, one key). */
  readonly key: symbol
}

/**
 * The engine's service key.
 *
 * @since 0.1.0
 * @category services
 */
export const TestEngine: Context.Service<TestEngine, TestEngine> = Context.Service<TestEngine>(
  "@async-job/testing/TestEngine"
)

/**
 * Creates an engine; latency timers are interrupted when the scope closes.
 *
 * @param options - The engine's behaviour; omitted, the defaults.
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<TestEngine, never, Scope.Scope> = internal.make

/**
 * Provides a {@link TestEngine}.
 *
 * @param options - The engine's behaviour; omitted, the defaults.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TestEngine> => Layer.effect(TestEngine, make(options))

/**
 * Submits an operation to the engine in context. See {@link TestEngine.submit}.
 *
 * @param name - The operation's name, as the test sees it in the submissions.
 * @param input - The operation's input, passed to the `respond` option.
 * @typeParam A - The result type the caller expects.
 * @since 0.1.0
 * @category accessors
 */
export const submit = <A = unknown>(
  name: string,
  input?: unknown
): Effect.Effect<A, OperationFailedError, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.submit<A>(name, input))

/**
 * See {@link TestEngine.complete}.
 *
 * @param id - The submission's id.
 * @param value - The operation's result.
 * @since 0.1.0
 * @category accessors
 */
export const complete = (id: number, value: unknown): Effect.Effect<void, UnknownOperationError, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.complete(id, value))

/**
 * See {@link TestEngine.fail}.
 *
 * @param id - The submission's id.
 * @param error - What the operation's `submit` fails with (in an `OperationFailedError`).
 * @since 0.1.0
 * @category accessors
 */
export const fail = (id: number, error: unknown): Effect.Effect<void, UnknownOperationError, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.fail(id, error))

/**
 * See {@link TestEngine.completeAll}.
 *
 * @param value - The result of each pending submission; omitted, the `respond` option's.
 * @since 0.1.0
 * @category accessors
 */
export const completeAll = (value?: (submission: Submission) => unknown): Effect.Effect<number, never, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.completeAll(value))

/**
 * See {@link TestEngine.refuseNext}.
 *
 * @param count - How many attempts to refuse.
 * @since 0.1.0
 * @category accessors
 */
export const refuseNext = (count: number): Effect.Effect<void, never, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.refuseNext(count))

/**
 * See {@link TestEngine.submissions}.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submissions: Effect.Effect<ReadonlyArray<Submission>, never, TestEngine> = Effect.flatMap(
  TestEngine,
  (engine) => engine.submissions
)

/**
 * See {@link TestEngine.pending}.
 *
 * @since 0.1.0
 * @category accessors
 */
export const pending: Effect.Effect<ReadonlyArray<Submission>, never, TestEngine> = Effect.flatMap(
  TestEngine,
  (engine) => engine.pending
)

/**
 * See {@link TestEngine.awaitSubmissions}.
 *
 * @param count - How many submissions to wait for.
 * @since 0.1.0
 * @category accessors
 */
export const awaitSubmissions = (count: number): Effect.Effect<ReadonlyArray<Submission>, never, TestEngine> =>
  Effect.flatMap(TestEngine, (engine) => engine.awaitSubmissions(count))

/**
 * See {@link TestEngine.openFds}.
 *
 * @since 0.1.0
 * @category accessors
 */
export const openFds: Effect.Effect<number, never, TestEngine> = Effect.flatMap(
  TestEngine,
  (engine) => engine.openFds
)
