/**
 * Durable jobs: jobs that pause on resume tokens, survive restarts and resume
 * from any process.
 *
 * A durable job is a workflow of `effect/workflow`, in the vocabulary of
 * `AsyncJob`:
 *
 * | `AsyncJob` (in memory) | `DurableJob` |
 * | --- | --- |
 * | a job body, any `Effect` | a body registered with {@link toLayer}, with a Schema'd payload, result and error |
 * | `AsyncJob.pause` | {@link pause}: a `DurableDeferred`, named by a wait fd the job declares |
 * | a wait fd on the job's wait ctx | a resume token ({@link ResumeToken}), which any process can complete with {@link signal} |
 * | `start` answers `Finished` or `Paused(job)` | {@link start} answers `Finished` or `Paused`, which carries the job's tokens |
 * | `resume(job)` on the pool that started it | {@link resume} from any process on the same store |
 * | `NoJobsError` when the pool is full | the same `NoJobsError` (core's), when the pool is full across all runners |
 * | `StaleJobError` for a cancelled job | the same `StaleJobError` (core's) |
 * | a side effect runs once per segment | an `Activity` runs at least once (again if its process dies mid-run); once it has completed, its result is journaled and it never runs again |
 *
 * @example
 * ```ts
 * import * as DurableJob from "@async-job/durable/DurableJob"
 * import * as DurableJobPool from "@async-job/durable/DurableJobPool"
 * import { Effect, Layer, Schema } from "effect"
 * import * as Activity from "effect/workflow/Activity"
 *
 * const Refund = DurableJob.make({
 *   name: "Refund",
 *   payload: { orderId: Schema.String, amount: Schema.Number },
 *   success: Schema.String,
 *   waits: { approval: Schema.Boolean },
 *   jobId: ({ orderId }) => orderId
 * })
 *
 * const RefundLive = DurableJob.toLayer(
 *   Refund,
 *   ({ amount, orderId }) =>
 *     Effect.gen(function*() {
 *       const approved = yield* DurableJob.pause(Refund, "approval")
 *       if (!approved) return "refused"
 *       return yield* Activity.make({
 *         name: "pay",
 *         success: Schema.String,
 *         execute: Effect.succeed(`paid ${amount} for ${orderId}`)
 *       })
 *     })
 * )
 *
 * const program = Effect.gen(function*() {
 *   // Paused, one token
 *   const step = yield* DurableJob.start(Refund, {
 *     orderId: "o-1",
 *     amount: 5
 *   })
 *   if (step._tag === "Paused") {
 *     // from this process or any other
 *     yield* DurableJob.signal(step.tokens[0], true)
 *     // Finished("paid 5 for o-1")
 *     return yield* DurableJob.resume(Refund, step)
 *   }
 *   return step
 * }).pipe(
 *   Effect.provide(
 *     RefundLive.pipe(
 *       Layer.provideMerge(DurableJobPool.layerMemory({ maxSize: 8 }))
 *     )
 *   )
 * )
 * ```
 *
 * **Replay**
 *
 * A paused job does not keep a fiber: when it is signalled, the engine runs
 * its body again from the start, and everything journaled (activities, pauses
 * already signalled) answers from the journal at once. Code outside
 * activities therefore runs again on every resume and after a restart: put
 * side effects in an `Activity`. A wait signalled while the run that awaits
 * it is still going (for instance, while an activity awaited beside it runs)
 * interrupts that run, and the job runs again at once: that run reports no
 * pause.
 *
 * **Divergence**
 *
 * The steps the body's own fiber takes (each activity and each wait, by kind
 * and name) are journaled in order, and every replay is checked against
 * them: a step that differs from the one journaled at its place, a journaled
 * result that no longer decodes with the code's Schema, or a run that ends
 * before a journaled step stops the replay there, before anything new runs.
 * The job is left `diverged`, holding its slot: {@link start}, {@link resume}
 * and {@link poll} answer {@link JobDivergedError} naming the step, {@link cancel}
 * ends it, and the next deploy of its kind ({@link toLayer}) runs it again,
 * so rolling the code back continues it. Guard changes with {@link version}.
 *
 * @since 0.1.0
 */
import type { AsyncJob } from "@async-job/core"
import type * as Brand from "effect/Brand"
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Workflow from "effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "effect/workflow/WorkflowEngine"
import type { DurableJobPool } from "./DurableJobPool.js"
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
} from "./Errors.js"
import * as internal from "./internal/durableJob.js"

/**
 * The brand of durable job definitions: a definition carries it as a key (see {@link isDurableJob}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What a paused job waits on: one of its wait fds, in this run. A capability:
 * it is signed with the store's key (`ASYNC_JOB_DURABLE_SECRET`, or a random
 * key kept in the store), so it cannot be derived from a job id; whoever holds
 * it can signal that wait fd once.
 *
 * @since 0.1.0
 * @category models
 */
export type ResumeToken = Brand.Branded<string, "@async-job/durable/ResumeToken">

/**
 * A Schema of a durable job's values: its payload's fields, its result, its
 * error and the values its wait fds are signalled with. They are journaled and
 * read back by any process on the store, so such a Schema needs no services
 * to decode or encode (its `DecodingServices` and `EncodingServices` are
 * `never`), and its encoded form is turned into JSON (`Schema.toCodecJson`).
 *
 * @since 0.2.0
 * @category models
 */
export type JobSchema = Schema.Codec<unknown, unknown, never, never>

/**
 * The fields of a job's payload: a {@link JobSchema} each (optional fields
 * included).
 *
 * @since 0.2.0
 * @category models
 */
export type PayloadFields = { readonly [x: PropertyKey]: JobSchema }

/**
 * The Schemas of the values a job's wait fds are signalled with, by name.
 *
 * @since 0.1.0
 * @category models
 */
export type Waits = Record<string, JobSchema>

/**
 * A durable job definition: a workflow with its payload, result and error
 * Schemas, and the wait fds it may pause on.
 *
 * @typeParam Name - The job's kind, its name.
 * @typeParam Payload - The Schema fields of the payload the job is started with.
 * @typeParam Success - The Schema of what the job succeeds with.
 * @typeParam Error - The Schema of what the job fails with.
 * @typeParam W - The Schemas of the values its wait fds are signalled with, by name.
 * @since 0.1.0
 * @category models
 */
export interface DurableJob<
  Name extends string,
  Payload extends PayloadFields,
  Success extends JobSchema,
  Error extends JobSchema,
  W extends Waits
> {
  readonly [TypeId]: TypeId
  readonly name: Name
  /** The underlying workflow, for the APIs of `effect/workflow`. */
  readonly workflow: Workflow.Workflow<Name, Schema.Struct<Payload>, Success, Error>
  readonly waits: W
  /** The version of the job's code (see {@link version}). */
  readonly version: number
  /** The oldest version of a job this code still runs. */
  readonly minVersion: number
}

/**
 * Any durable job definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Any {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly workflow: Workflow.Any & {
    readonly payloadSchema: Workflow.AnyStructSchema & JobSchema
    readonly successSchema: JobSchema
    readonly errorSchema: JobSchema
  }
  readonly waits: Waits
  readonly version: number
  readonly minVersion: number
}

/**
 * The payload a job is started with, as its Schema constructs it.
 *
 * @typeParam J - The job definition.
 * @since 0.1.0
 * @category models
 */
export type PayloadOf<J extends Any> = J["workflow"]["payloadSchema"]["~type.make.in"]

/**
 * What a job succeeds with, as its Schema decodes it.
 *
 * @typeParam J - The job definition.
 * @since 0.1.0
 * @category models
 */
export type SuccessOf<J extends Any> = J["workflow"]["successSchema"]["Type"]

/**
 * What a job fails with, as its Schema decodes it.
 *
 * @typeParam J - The job definition.
 * @since 0.1.0
 * @category models
 */
export type ErrorOf<J extends Any> = J["workflow"]["errorSchema"]["Type"]

/**
 * The job ran to its end and succeeded (`ASYNC_FINISH`): core's `Finished`,
 * with the job's id.
 *
 * @typeParam A - What the job succeeds with.
 * @since 0.1.0
 * @category models
 */
export interface Finished<out A> extends AsyncJob.Finished<A> {
  readonly jobId: string
}

/**
 * The job is paused (`ASYNC_PAUSE`) on the wait fds whose tokens it carries.
 * It is also the handle {@link resume} takes (where core's `Paused` carries
 * a live `Job`, a durable handle is the job's id and tokens, valid in any
 * process). A job paused with no tokens waits on something else (a
 * `DurableClock`, a child workflow).
 *
 * @since 0.1.0
 * @category models
 */
export interface Paused {
  readonly _tag: "Paused"
  readonly jobId: string
  readonly tokens: ReadonlyArray<ResumeToken>
}

/**
 * What {@link start} and {@link resume} answer: core's two steps.
 *
 * @typeParam A - What the job succeeds with.
 * @since 0.1.0
 * @category models
 */
export type Step<A> = Finished<A> | Paused

/**
 * The job is executing somewhere (or about to).
 *
 * @since 0.1.0
 * @category models
 */
export interface Running {
  readonly _tag: "Running"
  readonly jobId: string
}

/**
 * The job ended with an error or a defect.
 *
 * @typeParam E - What the job fails with.
 * @since 0.1.0
 * @category models
 */
export interface Failed<out E> {
  readonly _tag: "Failed"
  readonly jobId: string
  readonly cause: Cause.Cause<E>
}

/**
 * The job was cancelled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cancelled {
  readonly _tag: "Cancelled"
  readonly jobId: string
}

/**
 * Where a job is, as {@link poll} sees it. `Finished`, `Failed` and
 * `Cancelled` are final.
 *
 * @typeParam A - What the job succeeds with.
 * @typeParam E - What the job fails with.
 * @since 0.1.0
 * @category models
 */
export type JobStatus<A, E> = Running | Paused | Finished<A> | Failed<E> | Cancelled

/**
 * The errors every operation on an existing job may answer: the id is
 * unknown, names a job of another kind or another pool, the job's journal
 * does not replay under this code ({@link JobDivergedError}), or the store
 * failed.
 *
 * @since 0.1.0
 * @category models
 */
export type LookupError = JobNotFoundError | JobKindError | ForeignJobError | JobDivergedError | StoreError

/**
 * The options of {@link make}.
 *
 * @typeParam Name - The job's kind, its name.
 * @typeParam Payload - The Schema fields of the payload the job is started with.
 * @typeParam Success - The Schema of what the job succeeds with.
 * @typeParam Error - The Schema of what the job fails with.
 * @typeParam W - The Schemas of the values its wait fds are signalled with, by name.
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions<Name extends string, Payload extends PayloadFields, Success, Error, W> {
  readonly name: Name
  readonly payload: Payload
  readonly success?: Success | undefined
  readonly error?: Error | undefined
  readonly waits?: W | undefined
  readonly jobId: (payload: Schema.Struct.Type<Payload>) => string
  /** The version of this code of the job; default 1. Raise it when the body changes what it journals. */
  readonly version?: number | undefined
  /** The oldest version of a job this code still runs; default 1. */
  readonly minVersion?: number | undefined
}

/**
 * Defines a durable job.
 *
 * **Details**
 *
 * - `jobId` derives the job's identity from its payload: starting a job whose
 *   id exists attaches to that job instead of starting another.
 * - `waits` names the wait fds the job may pause on, with the Schema of the
 *   value each is signalled with.
 * - The name is the job's kind: it is recorded with every job started, and a
 *   job is only ever resumed, polled or cancelled with the definition of its
 *   kind ({@link JobKindError} otherwise).
 *
 * @param options - The job's name, payload, result, error and waits Schemas, its id and versions.
 * @typeParam Name - The job's kind, its name.
 * @typeParam Payload - The Schema fields of the payload the job is started with.
 * @typeParam Success - The Schema of what the job succeeds with.
 * @typeParam Error - The Schema of what the job fails with.
 * @typeParam W - The Schemas of the values its wait fds are signalled with, by name.
 * @since 0.1.0
 * @category constructors
 */
export const make: <
  const Name extends string,
  Payload extends PayloadFields,
  Success extends JobSchema = Schema.Void,
  Error extends JobSchema = Schema.Never,
  W extends Waits = {}
>(options: MakeOptions<Name, Payload, Success, Error, W>) => DurableJob<Name, Payload, Success, Error, W> =
  internal.make

/**
 * Registers the body of a job with the engine in context, and the job's
 * definition with the pool in context. Runners that should execute the job
 * provide this layer; processes that only start, poll, signal or cancel jobs
 * need the definition ({@link register}), not the body.
 *
 * **Details**
 *
 * As it builds, the layer completes every start of this kind that a dead
 * process left half done (its slot taken, its workflow not yet sent), so that
 * every slot is either a live job or free, and runs again every job of this
 * kind that earlier code left `diverged` (see "Divergence" above): it
 * diverges again, or, if this code replays its journal, continues.
 *
 * **Gotchas**
 *
 * The body runs again from its start on every resume (see "Replay" above):
 * keep side effects in activities, and make the code between them
 * deterministic. Only the steps of the body's own fiber are checked against
 * the journal: steps taken in forked fibers (`Effect.all` with concurrency,
 * races), whose order may change from run to run, are not.
 *
 * @param self - The job definition.
 * @param body - The job's code: given the payload and the job's id, it may {@link pause}.
 * @typeParam Name - The job's kind, its name.
 * @typeParam P - The Schema fields of the payload.
 * @typeParam S - The Schema of what the job succeeds with.
 * @typeParam E - The Schema of what the job fails with.
 * @typeParam W - The Schemas of the values its wait fds are signalled with.
 * @typeParam R - The services the body needs.
 * @since 0.1.0
 * @category layers
 */
export const toLayer: <
  Name extends string,
  P extends PayloadFields,
  S extends JobSchema,
  E extends JobSchema,
  W extends Waits,
  R
>(
  self: DurableJob<Name, P, S, E, W>,
  body: (
    payload: Schema.Struct.Type<P>,
    jobId: string
  ) => Effect.Effect<S["Type"], E["Type"], R>
) => Layer.Layer<
  never,
  StoreError,
  | WorkflowEngine
  | DurableJobPool
  | Exclude<R, WorkflowEngine | WorkflowInstance | Workflow.Execution<Name> | Scope.Scope>
> = internal.toLayer

/**
 * Makes definitions known to the pool in context, for a process that signals
 * tokens of jobs it neither runs nor started (`signal` checks a value against
 * the Schema of the definition named in the token).
 *
 * @param jobs - The job definitions.
 * @since 0.1.0
 * @category layers
 */
export const register: (...jobs: ReadonlyArray<Any>) => Layer.Layer<never, never, DurableJobPool> = internal.register

/**
 * Pauses the job on one of its wait fds (`ASYNC_pause_job`), and answers the
 * value it is signalled with. The `start` or `resume` that ran the job
 * answers `Paused` with the wait fd's token.
 *
 * **Details**
 *
 * - Each pause is a `DurableDeferred` named after the wait fd (and `key`):
 *   once signalled, it answers the same value on every replay. To wait on one
 *   wait fd several times, give each wait a different `key`.
 * - Pauses awaited together (`Effect.all`) report all their tokens.
 *
 * @param self - The job definition.
 * @param wait - The name of the wait fd, among the definition's `waits`.
 * @param options - `key`: tells apart several waits on the same wait fd.
 * @typeParam W - The definition's waits.
 * @typeParam K - The name of the wait fd.
 * @since 0.1.0
 * @category combinators
 */
export const pause: <W extends Waits, K extends keyof W & string>(
  self: Any & { readonly waits: W },
  wait: K,
  options?: { readonly key?: string | undefined }
) => Effect.Effect<W[K]["Type"], never, WorkflowEngine | WorkflowInstance | DurableJobPool> = internal.pause

/**
 * The token of one of the job's wait fds, from inside the job; for handing it
 * to an engine or a person before pausing.
 *
 * @param self - The job definition.
 * @param wait - The name of the wait fd, among the definition's `waits`.
 * @param options - `key`: tells apart several waits on the same wait fd.
 * @typeParam W - The definition's waits.
 * @typeParam K - The name of the wait fd.
 * @since 0.1.0
 * @category getters
 */
export const token: <W extends Waits, K extends keyof W & string>(
  self: Any & { readonly waits: W },
  wait: K,
  options?: { readonly key?: string | undefined }
) => Effect.Effect<ResumeToken, never, WorkflowInstance | DurableJobPool> = internal.token

/**
 * The version of the job's code that the running job was started under
 * (recorded with it when it starts; the same in every replay), for branching
 * like Temporal's `getVersion`/`patched`: guard a step that a new version of
 * the body inserts, changes or renames with `version >= n`, so that jobs
 * started under older code replay as they were journaled.
 *
 * **Details**
 *
 * A job whose version is below the definition's `minVersion` (or above its
 * `version`: started by newer code) is not run by this code: `start`,
 * `resume` and `poll` answer {@link JobDivergedError} (step `version`), and
 * the job stays where it was, for code that can run it or for `cancel`.
 * A change that is not guarded is detected as the job replays (see
 * "Divergence" above) and fails the same way, naming the step.
 *
 * @param self - The job definition.
 * @since 0.1.0
 * @category getters
 */
export const version: (self: Any) => Effect.Effect<number, never, WorkflowInstance | DurableJobPool> = internal.version

/**
 * Runs `self` without checking its steps against the job's journal (see
 * "Divergence" above): the activities and waits it takes are neither
 * compared with the journal nor added to it, so they may differ from run to
 * run. They are still journaled by the engine as usual.
 *
 * **When to use**
 *
 * For a step whose name changes on purpose between runs, such as an activity
 * named after the process (`submit/${boot}`) so that a restarted process
 * runs it again. Everything else should stay checked, and be changed behind
 * {@link version}.
 *
 * @example
 * ```ts
 * import * as DurableJob from "@async-job/durable/DurableJob"
 * import { Effect, Schema } from "effect"
 * import * as Activity from "effect/workflow/Activity"
 *
 * const Ping = DurableJob.make({
 *   name: "Ping",
 *   payload: { id: Schema.String },
 *   waits: { pong: Schema.Void },
 *   jobId: ({ id }) => id
 * })
 * const boot = crypto.randomUUID()
 *
 * export const PingLive = DurableJob.toLayer(
 *   Ping,
 *   () =>
 *     Effect.gen(function*() {
 *       // sent again by every process that runs the job,
 *       // and not a divergence
 *       yield* DurableJob.unchecked(
 *         Activity.make({
 *           name: `send/${boot}`,
 *           execute: Effect.log("ping")
 *         })
 *       )
 *       yield* DurableJob.pause(Ping, "pong")
 *     })
 * )
 * ```
 *
 * @param self - The steps to leave out of the check.
 * @typeParam A - What `self` succeeds with.
 * @typeParam E - What `self` fails with.
 * @typeParam R - What `self` requires.
 * @since 0.1.0
 * @category combinators
 */
export const unchecked: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = internal.unchecked

/**
 * The id of the job that `payload` starts.
 *
 * @param self - The job definition.
 * @param payload - The payload the job would be started with.
 * @typeParam J - The job definition.
 * @since 0.1.0
 * @category getters
 */
export const jobId: <J extends Any>(self: J, payload: PayloadOf<J>) => Effect.Effect<string> = internal.jobId

/**
 * Starts a job and waits until it pauses or finishes.
 *
 * **Details**
 *
 * - Succeeds with `Finished(value)` or `Paused(tokens)`; fails with the job's
 *   error, with `NoJobsError` when the pool is full (nothing was started), or
 *   `StaleJobError` (the job with this id was cancelled).
 * - Taking the slot and recording the job (its kind and payload) is one
 *   transaction; sending its workflow follows. A process that dies between
 *   the two leaves a `starting` job, which the next {@link toLayer} of its kind
 *   (or starting it again) completes.
 * - Idempotent: if a job with the same id was started before, in any process,
 *   no slot is taken and its current step is answered (`JobDivergedError` if
 *   it is `diverged`).
 * - Waits without polling: the job's runs publish each step as they journal
 *   it (across runners through Postgres `NOTIFY`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: StartSignature = internal.start

type StartSignature = <J extends Any>(
  self: J,
  payload: PayloadOf<J>
) => Effect.Effect<
  Step<SuccessOf<J>>,
  ErrorOf<J> | NoJobsError | StaleJobError | LookupError,
  WorkflowEngine | DurableJobPool
>

/**
 * Waits until a paused job moves past its pause, and answers its next step.
 *
 * **Details**
 *
 * - The job continues once one of its tokens is signalled ({@link signal}),
 *   from any process; `resume` waits for that (interruptibly), like
 *   `AsyncJob.run` waits for a wait fd. Give it a timeout where no signal
 *   may come.
 * - Takes the `Paused` handle, or a job id (then: the step after the job's
 *   current pause, or its end).
 * - A cancelled job answers `StaleJobError`; a job whose replay under this
 *   code diverged from its journal answers {@link JobDivergedError}, and holds
 *   its slot until it is cancelled or code that replays it is deployed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const resume: ResumeSignature = internal.resume

type ResumeSignature = <J extends Any>(
  self: J,
  handle: string | Paused
) => Effect.Effect<
  Step<SuccessOf<J>>,
  ErrorOf<J> | StaleJobError | LookupError,
  WorkflowEngine | DurableJobPool
>

/**
 * Where a job is now, from any process; does not wait. A running or paused
 * job that this code does not run (its version is retired, or its replay
 * diverged from its journal) answers {@link JobDivergedError}.
 *
 * @since 0.1.0
 * @category getters
 */
export const poll: PollSignature = internal.poll

type PollSignature = <J extends Any>(
  self: J,
  jobId: string
) => Effect.Effect<JobStatus<SuccessOf<J>, ErrorOf<J>>, LookupError, DurableJobPool>

/**
 * Cancels a job, from any process, and waits until it has ended: its workflow
 * scope is closed, its compensations have run and its slot is free. Answers
 * the final status: `Cancelled`, or how the job ended if it ended first.
 *
 * **Details**
 *
 * Completes for every id the pool knows, including a job whose start was cut
 * short by a crash (its start is completed, then it is cancelled) and a job
 * that diverged from its journal (it replays up to the divergence, runs
 * nothing new, and ends `Cancelled`, freeing its slot).
 *
 * @since 0.1.0
 * @category combinators
 */
export const cancel: CancelSignature = internal.cancel

type CancelSignature = <J extends Any>(
  self: J,
  jobId: string
) => Effect.Effect<JobStatus<SuccessOf<J>, ErrorOf<J>>, LookupError, WorkflowEngine | DurableJobPool>

/**
 * Completes a wait fd of a paused job (the analogue of making its fd
 * readable), from any process; the job continues.
 *
 * **Details**
 *
 * - The token must carry this store's signature ({@link InvalidTokenError}
 *   otherwise: a token made up from a job id is refused).
 * - `value` is checked against the wait fd's Schema first
 *   ({@link InvalidSignalError}: nothing is signalled, the job still waits).
 * - The job's definition must be known to the pool (registered by
 *   {@link toLayer} or {@link register}, or used by a `start` in this
 *   process) to check the value ({@link InvalidTokenError} otherwise).
 * - The first signal of a token wins; later ones change nothing. So a signal
 *   that failed with {@link StoreError} (`unavailable`: for instance the runner
 *   that owns the job died and its shards have not moved yet) may have been
 *   recorded, and is safe to send again.
 *
 * @param token - The wait fd's token, from `Paused.tokens` or {@link token}.
 * @param value - The value to signal it with, checked against the wait fd's Schema.
 * @since 0.1.0
 * @category combinators
 */
export const signal: (
  token: string,
  value: unknown
) => Effect.Effect<
  void,
  InvalidTokenError | InvalidSignalError | JobNotFoundError | StoreError,
  WorkflowEngine | DurableJobPool
> = internal.signal

/**
 * Whether a value is a durable job definition.
 *
 * @param u - Any value.
 * @since 0.1.0
 * @category guards
 */
export const isDurableJob = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)
