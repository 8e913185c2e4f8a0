import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { globalValue } from "effect/GlobalValue"
import type * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as DurableJob from "../DurableJob.js"
import { DurableJobPool } from "../DurableJobPool.js"
import {
  InvalidSignalError,
  InvalidTokenError,
  JobCancelledError,
  JobNotFoundError,
  type NoJobsError
} from "../Errors.js"

type AnyJob = DurableJob.DurableJob<string, any, any, any, any>

/** @internal */
export const TypeId: typeof DurableJob.TypeId = Symbol.for("@async-job/durable/DurableJob") as typeof DurableJob.TypeId

/** Definitions by name, so that `signal` can check a value against the wait fd's Schema. */
const registry = globalValue(Symbol.for("@async-job/durable/registry"), () => new Map<string, AnyJob>())

/** @internal */
export const make = (options: {
  readonly name: string
  readonly payload: Schema.Struct.Fields
  readonly success?: Schema.Schema.Any | undefined
  readonly error?: Schema.Schema.All | undefined
  readonly waits?: Record<string, Schema.Schema.Any> | undefined
  readonly jobId: (payload: any) => string
}): AnyJob => {
  const workflow = Workflow.make({
    name: options.name,
    payload: options.payload,
    success: options.success ?? Schema.Void,
    error: options.error ?? Schema.Never,
    idempotencyKey: options.jobId
  })
  const self: AnyJob = { [TypeId]: TypeId, name: options.name, workflow, waits: options.waits ?? {} }
  registry.set(options.name, self)
  return self
}

/** @internal */
export const toLayer = (
  self: AnyJob,
  body: (payload: any, jobId: string) => Effect.Effect<any, any, any>
): Layer.Layer<never, never, any> =>
  self.workflow.toLayer((payload: any, jobId: string) =>
    Effect.gen(function*() {
      const pool = yield* DurableJobPool
      // the workflow scope closes once, when the job ends (finished, failed or cancelled), never at a pause
      yield* Workflow.addFinalizer(() => pool.release(jobId))
      return yield* body(payload, jobId)
    })
  )

// -----------------------------------------------------------------------------
// pauses
// -----------------------------------------------------------------------------

/**
 * A paused run reports the tokens it waits on through the engine's own
 * `Suspended` result: each pause adds a marker defect to the instance's
 * suspension cause, which the engine stores with the suspension (in the same
 * write, for the SQL engines). So `poll` in any process reads a paused job
 * together with its tokens, and never tokens of a pause the job has left.
 */
const PAUSED_ON = "@async-job/durable/PausedOn"

const pausedOn = (token: string): Cause.Cause<never> => {
  const marker = new Error(token)
  marker.name = PAUSED_ON
  return Cause.die(marker)
}

const tokensOf = (cause: Cause.Cause<never> | undefined): ReadonlyArray<DurableJob.ResumeToken> => {
  if (cause === undefined) return []
  const tokens = new Set<string>()
  for (const defect of Chunk.toReadonlyArray(Cause.defects(cause))) {
    if (defect instanceof Error && defect.name === PAUSED_ON) tokens.add(defect.message)
  }
  return Array.from(tokens) as Array<DurableJob.ResumeToken>
}

const deferredName = (wait: string, key: string | undefined) => key === undefined ? wait : `${wait}/${key}`

/** @internal */
export const pause = (
  self: AnyJob,
  wait: string,
  options?: { readonly key?: string | undefined }
): Effect.Effect<unknown, never, WorkflowEngine | WorkflowInstance> =>
  Effect.gen(function*() {
    const schema = self.waits[wait]
    if (schema === undefined) return yield* Effect.dieMessage(`${self.name} declares no wait fd ${wait}`)
    const deferred = DurableDeferred.make(deferredName(wait, options?.key), { success: schema })
    const engine = yield* WorkflowEngine
    const instance = yield* WorkflowInstance
    // registered inside the activity-like section, so that pauses awaited together all report their tokens
    const exit = yield* Workflow.wrapActivityResult(
      Effect.tap(engine.deferredResult(deferred), (exit) => {
        if (exit !== undefined) return
        const token = DurableDeferred.tokenFromExecutionId(deferred, {
          workflow: instance.workflow,
          executionId: instance.executionId
        })
        instance.cause = instance.cause === undefined
          ? pausedOn(token)
          : Cause.sequential(instance.cause, pausedOn(token))
      }),
      Predicate.isUndefined
    )
    if (exit === undefined) return yield* Workflow.suspend(instance)
    return yield* exit
  })

/** @internal */
export const token = (
  self: AnyJob,
  wait: string,
  options?: { readonly key?: string | undefined }
): Effect.Effect<DurableJob.ResumeToken, never, WorkflowInstance> =>
  Effect.map(
    WorkflowInstance,
    (instance) =>
      DurableDeferred.tokenFromExecutionId(DurableDeferred.make(deferredName(wait, options?.key)), {
        workflow: self.workflow,
        executionId: instance.executionId
      }) as string as DurableJob.ResumeToken
  )

// -----------------------------------------------------------------------------
// status
// -----------------------------------------------------------------------------

/** How long to wait between two looks at a job that has not moved yet. */
const settleSchedule = Schedule.exponential("2 millis", 2).pipe(Schedule.union(Schedule.spaced("50 millis")))

/** @internal */
export const status = (
  self: AnyJob,
  jobId: string
): Effect.Effect<DurableJob.JobStatus<any, any>, JobNotFoundError, WorkflowEngine | DurableJobPool> =>
  Effect.gen(function*() {
    const pool = yield* DurableJobPool
    // the ledger first: a job that ends releases its slot before its result is stored
    const known = yield* pool.known(jobId)
    const result = yield* self.workflow.poll(jobId)
    if (result === undefined) {
      if (!known) return yield* new JobNotFoundError({ job: self.name, jobId })
      return { _tag: "Running", jobId } as const
    }
    if (result._tag === "Suspended") return { _tag: "Paused", jobId, tokens: tokensOf(result.cause) } as const
    const exit = result.exit
    if (Exit.isSuccess(exit)) return { _tag: "Finished", jobId, value: exit.value } as const
    if (Cause.isInterruptedOnly(exit.cause)) return { _tag: "Cancelled", jobId } as const
    return { _tag: "Failed", jobId, cause: exit.cause } as const
  })

const sameTokens = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((token) => b.includes(token))

/**
 * Looks at the job until `done` accepts its status. Every look reads the
 * engine's store, so this works from any process.
 */
const waitFor = <S extends DurableJob.JobStatus<any, any>>(
  self: AnyJob,
  jobId: string,
  done: (status: DurableJob.JobStatus<any, any>) => status is S
): Effect.Effect<S, JobNotFoundError, WorkflowEngine | DurableJobPool> =>
  Effect.flatMap(Schedule.driver(settleSchedule), (driver) => {
    const loop: Effect.Effect<S, JobNotFoundError, WorkflowEngine | DurableJobPool> = Effect.flatMap(
      status(self, jobId),
      (current) => done(current) ? Effect.succeed(current) : Effect.zipRight(Effect.orDie(driver.next(undefined)), loop)
    )
    return loop
  })

type Settled = DurableJob.Paused | DurableJob.Finished<any> | DurableJob.Failed<any> | DurableJob.Cancelled

/** Turns a settled status into the answer of `start` or `resume`. */
const toStep = (
  self: AnyJob,
  settled: Settled
): Effect.Effect<DurableJob.Step<any>, unknown> => {
  switch (settled._tag) {
    case "Paused":
    case "Finished":
      return Effect.succeed(settled)
    case "Cancelled":
      return new JobCancelledError({ job: self.name, jobId: settled.jobId })
    case "Failed":
      return Effect.failCause(settled.cause)
  }
}

const isSettled = (status: DurableJob.JobStatus<any, any>): status is Settled => status._tag !== "Running"

/** @internal */
export const jobId = (self: AnyJob, payload: any): Effect.Effect<string> => self.workflow.executionId(payload)

/** @internal */
export const start = (
  self: AnyJob,
  payload: any
): Effect.Effect<DurableJob.Step<any>, unknown, WorkflowEngine | DurableJobPool> =>
  Effect.gen(function*() {
    const pool = yield* DurableJobPool
    const id = yield* self.workflow.executionId(payload)
    // a job started before (even by a process that died before the next line) keeps its slot and is not counted twice
    yield* (pool.acquire(id) as Effect.Effect<boolean, NoJobsError>)
    yield* self.workflow.execute(payload, { discard: true })
    const settled = yield* waitFor(self, id, isSettled)
    return yield* toStep(self, settled)
  }).pipe(Effect.withSpan("DurableJob.start", { attributes: { "async_job.job": self.name } }))

/** @internal */
export const resume = (
  self: AnyJob,
  handle: string | DurableJob.Paused
): Effect.Effect<DurableJob.Step<any>, unknown, WorkflowEngine | DurableJobPool> =>
  Effect.gen(function*() {
    const id = typeof handle === "string" ? handle : handle.jobId
    let from: ReadonlyArray<string>
    if (typeof handle === "string") {
      const now = yield* waitFor(self, id, isSettled)
      if (now._tag !== "Paused") return yield* toStep(self, now)
      from = now.tokens
    } else {
      from = handle.tokens
    }
    const next = yield* waitFor(
      self,
      id,
      (status): status is Settled => isSettled(status) && !(status._tag === "Paused" && sameTokens(status.tokens, from))
    )
    return yield* toStep(self, next)
  }).pipe(Effect.withSpan("DurableJob.resume", { attributes: { "async_job.job": self.name } }))

/** @internal */
export const cancel = (
  self: AnyJob,
  id: string
): Effect.Effect<DurableJob.JobStatus<any, any>, JobNotFoundError, WorkflowEngine | DurableJobPool> =>
  Effect.gen(function*() {
    const now = yield* status(self, id)
    if (now._tag !== "Running" && now._tag !== "Paused") return now
    yield* self.workflow.interrupt(id)
    return yield* waitFor(
      self,
      id,
      (status): status is DurableJob.Finished<any> | DurableJob.Failed<any> | DurableJob.Cancelled =>
        status._tag !== "Running" && status._tag !== "Paused"
    )
  }).pipe(Effect.withSpan("DurableJob.cancel", { attributes: { "async_job.job": self.name } }))

// -----------------------------------------------------------------------------
// signals
// -----------------------------------------------------------------------------

const decodeToken = Schema.decodeUnknownEither(DurableDeferred.TokenParsed.FromString)

/** @internal */
export const signal = (
  token: string,
  value: unknown
): Effect.Effect<
  void,
  InvalidTokenError | InvalidSignalError | JobNotFoundError,
  WorkflowEngine | DurableJobPool
> =>
  Effect.gen(function*() {
    const parsed = decodeToken(token)
    if (parsed._tag === "Left") return yield* new InvalidTokenError({ token, reason: "not a resume token" })
    const { deferredName: name, executionId, workflowName } = parsed.right
    const self = registry.get(workflowName)
    if (self === undefined) {
      return yield* new InvalidTokenError({ token, reason: `no durable job named ${workflowName} in this process` })
    }
    const wait = name.split("/")[0]!
    const schema = self.waits[wait]
    if (schema === undefined) {
      return yield* new InvalidTokenError({ token, reason: `${workflowName} declares no wait fd ${wait}` })
    }
    const valid = Schema.validateEither(schema)(value)
    if (valid._tag === "Left") {
      return yield* new InvalidSignalError({
        job: workflowName,
        waitFd: wait,
        reason: ParseResult.TreeFormatter.formatErrorSync(valid.left)
      })
    }
    const pool = yield* DurableJobPool
    if (!(yield* pool.known(executionId))) return yield* new JobNotFoundError({ job: workflowName, jobId: executionId })
    yield* DurableDeferred.succeed(DurableDeferred.make(name, { success: schema }), {
      token: token as DurableDeferred.Token,
      value: valid.right
    })
  }).pipe(Effect.withSpan("DurableJob.signal"))
