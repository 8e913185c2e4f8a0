/**
 * The contract of a job pool (OpenSSL's job semantics and the
 * [Port decisions](/concepts/#where-we-deliberately-differ) that bind it),
 * as a reusable vitest suite. Every implementation of `JobPool` runs it:
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
 * Covers: pool limits and their validation ([Port decision 4](/concepts/#port-decision-4)), start, pause, resume and
 * finish with their pool counts, the current job and handle identity ([Port decision 1](/concepts/#port-decision-1)),
 * stale, running and foreign handles (Port decisions [1](/concepts/#port-decision-1),
 * [3](/concepts/#port-decision-3), [13](/concepts/#port-decision-13)), wait-ctx binding and change
 * bookkeeping through job runs, pause blocking ([Port decision 6](/concepts/#port-decision-6)), ambient isolation
 * ([Port decision 11](/concepts/#port-decision-11)), nesting ([Port decision 2](/concepts/#port-decision-2)), failing bodies ([Port decision 10](/concepts/#port-decision-10)),
 * cancellation, interruption of the caller, closing the pool with paused jobs
 * ([Port decision 5](/concepts/#port-decision-5)), a null wait ctx ([Port decision 7](/concepts/#port-decision-7)) and closing a
 * wait ctx under a paused job ([Port decision 8](/concepts/#port-decision-8)).
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
