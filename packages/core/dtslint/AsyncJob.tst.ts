/**
 * Type tests for the public signatures, checked by `tsc -b` (part of `pnpm test`).
 * A wrong type makes the build, and so the test command, fail.
 */
import { Context, type Effect, type Layer, type Option, type Scope } from "effect"
import { expectTypeOf } from "vitest"
import * as AsyncJob from "../src/AsyncJob.js"
import type {
  ForeignJobError,
  InvalidPoolSizeError,
  JobNotPausedError,
  JobTimeoutError,
  NoJobsError,
  StaleJobError
} from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import type * as WaitFd from "../src/WaitFd.js"

class Engine extends Context.Service<Engine, { readonly ping: number }>()("Engine") {}
class EngineDown {
  readonly _tag = "EngineDown"
}
declare const body: Effect.Effect<number, EngineDown, Engine>
declare const job: AsyncJob.Job<number, EngineDown>
declare const ctx: WaitCtx.WaitCtx

// start carries the body's error and requirement types, plus NoJobs and the pool
expectTypeOf(AsyncJob.start(body)).toEqualTypeOf<
  Effect.Effect<AsyncJob.JobResult<number, EngineDown>, EngineDown | NoJobsError, Engine | JobPool.JobPool>
>()
expectTypeOf(AsyncJob.start(body, { waitCtx: ctx })).toEqualTypeOf<
  Effect.Effect<AsyncJob.JobResult<number, EngineDown>, EngineDown | NoJobsError, Engine | JobPool.JobPool>
>()

// resume keeps the job's types and adds the ways a handle can be refused
expectTypeOf(AsyncJob.resume(job)).toEqualTypeOf<
  Effect.Effect<
    AsyncJob.JobResult<number, EngineDown>,
    EngineDown | StaleJobError | JobNotPausedError | ForeignJobError,
    JobPool.JobPool
  >
>()
expectTypeOf(AsyncJob.cancel(job)).toEqualTypeOf<
  Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError, JobPool.JobPool>
>()

// run answers the value itself
expectTypeOf(AsyncJob.run(body, { timeout: "1 second" })).toEqualTypeOf<
  Effect.Effect<number, EngineDown | NoJobsError | JobTimeoutError, Engine | JobPool.JobPool>
>()

// a Paused step carries a handle with the body's types; Finished carries the value
declare const step: AsyncJob.JobResult<number, EngineDown>
if (step._tag === "Paused") expectTypeOf(step.job).toEqualTypeOf<AsyncJob.Job<number, EngineDown>>()
else expectTypeOf(step.value).toEqualTypeOf<number>()

// the job-side operations need nothing and cannot fail
expectTypeOf(AsyncJob.pause).toEqualTypeOf<Effect.Effect<void>>()
expectTypeOf(AsyncJob.current).toEqualTypeOf<Effect.Effect<Option.Option<AsyncJob.Job>>>()
expectTypeOf(AsyncJob.withPauseBlocked(body)).toEqualTypeOf<Effect.Effect<number, EngineDown, Engine>>()
expectTypeOf(AsyncJob.waitCtxUnsafe(job)).toEqualTypeOf<Option.Option<WaitCtx.WaitCtx>>()

// reading a job's mutable state is an effect; the unsafe forms read it synchronously
expectTypeOf(AsyncJob.waitCtx(job)).toEqualTypeOf<Effect.Effect<Option.Option<WaitCtx.WaitCtx>>>()
expectTypeOf(AsyncJob.state(job)).toEqualTypeOf<Effect.Effect<AsyncJob.JobState>>()
expectTypeOf(AsyncJob.stateUnsafe(job)).toEqualTypeOf<AsyncJob.JobState>()

// handles and wait ctxs are Pipeable
expectTypeOf(job.pipe(AsyncJob.state)).toEqualTypeOf<Effect.Effect<AsyncJob.JobState>>()

// pools: scoped constructor, layer with its error
expectTypeOf(JobPool.make({ maxSize: 2 })).toEqualTypeOf<
  Effect.Effect<JobPool.JobPool, InvalidPoolSizeError, Scope.Scope>
>()
expectTypeOf(JobPool.layer({ maxSize: 2 })).toEqualTypeOf<Layer.Layer<JobPool.JobPool, InvalidPoolSizeError>>()

// wait ctx: scoped, dual setters
expectTypeOf(WaitCtx.make).toEqualTypeOf<Effect.Effect<WaitCtx.WaitCtx, never, Scope.Scope>>()
declare const fd: WaitFd.InProcessWaitFd
expectTypeOf(WaitCtx.setWaitFd(ctx, "key", fd)).toEqualTypeOf<Effect.Effect<void>>()
expectTypeOf(WaitCtx.setWaitFd("key", fd)).toEqualTypeOf<(self: WaitCtx.WaitCtx) => Effect.Effect<void>>()
expectTypeOf(WaitCtx.getStatus(ctx)).toEqualTypeOf<Effect.Effect<WaitCtx.Status | number>>()
expectTypeOf(ctx.pipe(WaitCtx.setWaitFd("key", fd))).toEqualTypeOf<Effect.Effect<void>>()

// any value is a key, a wait ctx included, data-first or data-last
expectTypeOf(WaitCtx.setWaitFd(ctx, ctx, fd)).toEqualTypeOf<Effect.Effect<void>>()
expectTypeOf(WaitCtx.setWaitFd(ctx, fd)).toEqualTypeOf<(self: WaitCtx.WaitCtx) => Effect.Effect<void>>()

// run is dual, like FiberSet.run
expectTypeOf(AsyncJob.run(body)).toEqualTypeOf<
  Effect.Effect<number, EngineDown | NoJobsError | JobTimeoutError, Engine | JobPool.JobPool>
>()
expectTypeOf(body.pipe(AsyncJob.run({ timeout: "1 second" }))).toEqualTypeOf<
  Effect.Effect<number, EngineDown | NoJobsError | JobTimeoutError, Engine | JobPool.JobPool>
>()

// a handle cannot be resumed as a job of another type
declare const stringJob: AsyncJob.Job<string, never>
// @ts-expect-error a Job<string> is not a Job<number>
const wrong: AsyncJob.Job<number, never> = stringJob
void wrong
// @ts-expect-error a wait fd must be a WaitFd, not a number
WaitCtx.setWaitFd(ctx, "key", 3)
