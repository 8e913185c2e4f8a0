/**
 * The contract of a job pool (OpenSSL's job semantics, and this project's
 * answers where OpenSSL crashes, leaks or leaves the outcome undefined), as a
 * reusable vitest suite. A pool of your own that decorates the engine's (one
 * made by `JobPool.make`, whose operations it delegates: to meter, log or
 * limit them) runs it to show it keeps the contract:
 *
 * ```ts
 * import { JobPool } from "@async-job/core"
 * import { testJobPool } from "@async-job/testing/JobPoolSuite"
 *
 * testJobPool("in-memory", JobPool.layer)
 * ```
 *
 * The suite builds a fresh pool per test from the layer constructor it is
 * given, with the limits each test needs, and with an `EventRecorder` in
 * context, so the pool must read `JobObserver` from its context while it is
 * built, as `JobPool.make` does.
 *
 * @since 0.1.0
 */
import type * as AsyncJob from "@async-job/core/AsyncJob"
import type { InvalidPoolSizeError } from "@async-job/core/Errors"
import type * as JobPool from "@async-job/core/JobPool"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/jobPoolSuite.js"

/**
 * Builds a pool with the given limits, as `JobPool.layer` does.
 *
 * @param options - The pool's limits.
 * @typeParam E - How building the pool fails, beside an invalid size.
 * @since 0.1.0
 * @category models
 */
export type MakeLayer<E> = (
  options?: JobPool.Options
) => Layer.Layer<JobPool.JobPool, E | InvalidPoolSizeError>

/**
 * Registers the contract suite (`describe(name, ...)`) for the pools that
 * `makeLayer` builds. Call it at the top level of a test file.
 *
 * **Details**
 *
 * Covers: pool limits and their validation (a second set of limits replaces
 * the first), start, pause, resume and finish with their pool counts, the
 * current job and handle identity (a fresh handle per run), stale, running and
 * foreign handles (refused, the job left as it was), wait-ctx binding and
 * change bookkeeping through job runs, pause blocking (the counter belongs to
 * the job), ambient isolation, nesting, failing bodies, cancellation,
 * interruption of the caller, closing the pool with paused jobs (they are
 * cancelled and awaited), a null wait ctx, and closing a wait ctx under a
 * paused job (cancelled before the cleanups run).
 *
 * @param name - The suite's name, for `describe`.
 * @param makeLayer - Builds the pool under test with the given limits.
 * @typeParam E - How building the pool fails, beside an invalid size.
 * @since 0.1.0
 * @category testing
 */
export const testJobPool: <E>(name: string, makeLayer: MakeLayer<E>) => void = internal.testJobPool

/**
 * Asserts that a step is `Paused` and returns its job handle; a helper for
 * tests written against the job API.
 *
 * @param step - What `start` or `resume` answered.
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category testing
 */
export const expectPaused: <A, E>(step: AsyncJob.JobResult<A, E>) => AsyncJob.Job<A, E> = internal.expectPaused

/**
 * Asserts that a step is `Finished` and returns its value.
 *
 * @param step - What `start` or `resume` answered.
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category testing
 */
export const expectFinished: <A, E>(step: AsyncJob.JobResult<A, E>) => A = internal.expectFinished
