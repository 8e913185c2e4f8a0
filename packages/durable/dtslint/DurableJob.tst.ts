/**
 * Type tests for the public signatures of DurableJob, checked by `tsc -b` (part of
 * `pnpm test`). A wrong type makes the build, and so the test command, fail.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { WorkflowEngine, WorkflowInstance } from "effect/workflow/WorkflowEngine"
import { expectTypeOf } from "vitest"
import * as DurableJob from "../src/DurableJob.js"
import type * as DurableJobPool from "../src/DurableJobPool.js"
import type {
  ForeignJobError,
  InvalidSignalError,
  InvalidTokenError,
  JobDivergedError,
  JobKindError,
  JobNotFoundError,
  NoJobsError,
  StaleJobError,
  StoreError
} from "../src/Errors.js"

class RefundRefused extends Schema.TaggedError<RefundRefused>()("RefundRefused", { orderId: Schema.String }) {}

const Refund = DurableJob.make({
  name: "Refund",
  payload: { orderId: Schema.String, amount: Schema.Number },
  success: Schema.String,
  error: RefundRefused,
  waits: { approval: Schema.Boolean, note: Schema.String },
  jobId: ({ orderId }) => orderId
})

// -----------------------------------------------------------------------------
// make: what it infers
// -----------------------------------------------------------------------------

// the name is a literal, the Schemas are kept as given
expectTypeOf(Refund).toEqualTypeOf<
  DurableJob.DurableJob<
    "Refund",
    { orderId: Schema.String; amount: Schema.Number },
    Schema.String,
    typeof RefundRefused,
    { approval: Schema.Boolean; note: Schema.String }
  >
>()
expectTypeOf(Refund.name).toEqualTypeOf<"Refund">()
expectTypeOf<DurableJob.PayloadOf<typeof Refund>>().toEqualTypeOf<
  { readonly orderId: string; readonly amount: number }
>()
expectTypeOf<DurableJob.SuccessOf<typeof Refund>>().toEqualTypeOf<string>()
expectTypeOf<DurableJob.ErrorOf<typeof Refund>>().toEqualTypeOf<RefundRefused>()

// omitted Schemas: a job that succeeds with void, cannot fail, and has no wait fds
const Ping = DurableJob.make({ name: "Ping", payload: { id: Schema.String }, jobId: ({ id }) => id })
expectTypeOf(Ping).toEqualTypeOf<
  DurableJob.DurableJob<"Ping", { id: Schema.String }, Schema.Void, Schema.Never, {}>
>()
expectTypeOf<DurableJob.SuccessOf<typeof Ping>>().toEqualTypeOf<void>()
expectTypeOf<DurableJob.ErrorOf<typeof Ping>>().toEqualTypeOf<never>()

// jobId is given the payload as its Schema decodes it
DurableJob.make({
  name: "Typed",
  payload: { n: Schema.Number },
  jobId: (payload) => {
    expectTypeOf(payload).toEqualTypeOf<{ readonly n: number }>()
    return String(payload.n)
  }
})

// a definition is Any, and the guard narrows to it
expectTypeOf(Refund).toExtend<DurableJob.Any>()
declare const u: unknown
if (DurableJob.isDurableJob(u)) expectTypeOf(u).toEqualTypeOf<DurableJob.Any>()

// -----------------------------------------------------------------------------
// start, resume, poll, cancel, signal
// -----------------------------------------------------------------------------

type Lookup = JobNotFoundError | JobKindError | ForeignJobError | JobDivergedError | StoreError
expectTypeOf<DurableJob.LookupError>().toEqualTypeOf<Lookup>()

// start answers the job's steps, fails with the job's error, a full pool, a cancelled id, or a lookup error
expectTypeOf(DurableJob.start(Refund, { orderId: "o-1", amount: 5 })).toEqualTypeOf<
  Effect.Effect<
    DurableJob.Step<string>,
    RefundRefused | NoJobsError | StaleJobError | Lookup,
    WorkflowEngine | DurableJobPool.DurableJobPool
  >
>()
expectTypeOf(DurableJob.start(Ping, { id: "p" })).toEqualTypeOf<
  Effect.Effect<
    DurableJob.Step<void>,
    NoJobsError | StaleJobError | Lookup,
    WorkflowEngine | DurableJobPool.DurableJobPool
  >
>()

// a step: Finished carries the value and the job's id, Paused the id and the tokens
declare const step: DurableJob.Step<string>
if (step._tag === "Finished") {
  expectTypeOf(step.value).toEqualTypeOf<string>()
  expectTypeOf(step.jobId).toEqualTypeOf<string>()
} else {
  expectTypeOf(step).toEqualTypeOf<DurableJob.Paused>()
  expectTypeOf(step.tokens).toEqualTypeOf<ReadonlyArray<DurableJob.ResumeToken>>()
}

// resume takes the Paused handle or a job id; no NoJobsError (it takes no slot)
declare const paused: DurableJob.Paused
expectTypeOf(DurableJob.resume(Refund, paused)).toEqualTypeOf<
  Effect.Effect<
    DurableJob.Step<string>,
    RefundRefused | StaleJobError | Lookup,
    WorkflowEngine | DurableJobPool.DurableJobPool
  >
>()
expectTypeOf(DurableJob.resume(Refund, "job-id")).toEqualTypeOf(DurableJob.resume(Refund, paused))

// poll reads the ledger only: no engine; the job's error is in its status, not the error channel
expectTypeOf(DurableJob.poll(Refund, "job-id")).toEqualTypeOf<
  Effect.Effect<DurableJob.JobStatus<string, RefundRefused>, Lookup, DurableJobPool.DurableJobPool>
>()
expectTypeOf(DurableJob.cancel(Refund, "job-id")).toEqualTypeOf<
  Effect.Effect<
    DurableJob.JobStatus<string, RefundRefused>,
    Lookup,
    WorkflowEngine | DurableJobPool.DurableJobPool
  >
>()
declare const status: DurableJob.JobStatus<string, RefundRefused>
switch (status._tag) {
  case "Finished":
    expectTypeOf(status.value).toEqualTypeOf<string>()
    break
  case "Failed":
    expectTypeOf(status.cause.reasons).toExtend<ReadonlyArray<unknown>>()
    expectTypeOf(status).toEqualTypeOf<DurableJob.Failed<RefundRefused>>()
    break
  case "Paused":
    expectTypeOf(status.tokens).toEqualTypeOf<ReadonlyArray<DurableJob.ResumeToken>>()
    break
  case "Running":
  case "Cancelled":
    expectTypeOf(status.jobId).toEqualTypeOf<string>()
}

// signal takes any token string and any value: both are checked at run time, with typed errors
expectTypeOf(DurableJob.signal("token", true)).toEqualTypeOf<
  Effect.Effect<
    void,
    InvalidTokenError | InvalidSignalError | JobNotFoundError | StoreError,
    WorkflowEngine | DurableJobPool.DurableJobPool
  >
>()

expectTypeOf(DurableJob.jobId(Refund, { orderId: "o-1", amount: 5 })).toEqualTypeOf<Effect.Effect<string>>()

// a resume token is a branded string: a plain string is not one
expectTypeOf<DurableJob.ResumeToken>().toExtend<string>()
expectTypeOf<string>().not.toExtend<DurableJob.ResumeToken>()

// -----------------------------------------------------------------------------
// inside a job: pause, token, version, unchecked
// -----------------------------------------------------------------------------

// pause answers the value of the wait fd's Schema
expectTypeOf(DurableJob.pause(Refund, "approval")).toEqualTypeOf<
  Effect.Effect<boolean, never, WorkflowEngine | WorkflowInstance | DurableJobPool.DurableJobPool>
>()
expectTypeOf(DurableJob.pause(Refund, "note", { key: "second" })).toEqualTypeOf<
  Effect.Effect<string, never, WorkflowEngine | WorkflowInstance | DurableJobPool.DurableJobPool>
>()
expectTypeOf(DurableJob.token(Refund, "approval")).toEqualTypeOf<
  Effect.Effect<DurableJob.ResumeToken, never, WorkflowInstance | DurableJobPool.DurableJobPool>
>()
expectTypeOf(DurableJob.version(Refund)).toEqualTypeOf<
  Effect.Effect<number, never, WorkflowInstance | DurableJobPool.DurableJobPool>
>()
declare const steps: Effect.Effect<number, RefundRefused, WorkflowInstance>
expectTypeOf(DurableJob.unchecked(steps)).toEqualTypeOf(steps)

// -----------------------------------------------------------------------------
// toLayer, register
// -----------------------------------------------------------------------------

class Payments extends Context.Service<Payments, { readonly pay: (amount: number) => Effect.Effect<string> }>()(
  "Payments"
) {}
declare const pay: Effect.Effect<string, never, Payments>
declare const refuse: Effect.Effect<never, RefundRefused>

// the body's own services stay requirements of the layer; the workflow's own (instance, execution, scope) do not
expectTypeOf(DurableJob.toLayer(Refund, () => pay)).toEqualTypeOf<
  Layer.Layer<never, StoreError, WorkflowEngine | DurableJobPool.DurableJobPool | Payments>
>()
declare const inRun: Effect.Effect<
  string,
  RefundRefused,
  WorkflowInstance | Scope.Scope | DurableJobPool.DurableJobPool
>
expectTypeOf(DurableJob.toLayer(Refund, () => inRun)).toEqualTypeOf<
  Layer.Layer<never, StoreError, WorkflowEngine | DurableJobPool.DurableJobPool>
>()
DurableJob.toLayer(Refund, (payload, jobId) => {
  expectTypeOf(payload).toEqualTypeOf<{ readonly orderId: string; readonly amount: number }>()
  expectTypeOf(jobId).toEqualTypeOf<string>()
  return refuse
})
expectTypeOf(DurableJob.register(Refund, Ping)).toEqualTypeOf<
  Layer.Layer<never, never, DurableJobPool.DurableJobPool>
>()

// -----------------------------------------------------------------------------
// what does not type-check
// -----------------------------------------------------------------------------

// @ts-expect-error the payload is missing a field
DurableJob.start(Refund, { orderId: "o-1" })
// @ts-expect-error a field of the wrong type
DurableJob.start(Refund, { orderId: "o-1", amount: "5" })
// @ts-expect-error a wait fd the definition does not declare
DurableJob.pause(Refund, "payment")
// @ts-expect-error the body must succeed with the success Schema's type
DurableJob.toLayer(Refund, () => Effect.succeed(42))
// @ts-expect-error the body may fail only with the error Schema's type
DurableJob.toLayer(Refund, () => Effect.fail("refused"))
// @ts-expect-error minVersion and version are numbers
DurableJob.make({ name: "V", payload: {}, jobId: () => "v", version: "2" })
