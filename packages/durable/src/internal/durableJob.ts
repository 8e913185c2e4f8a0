import * as Brand from "effect/Brand"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as DurableDeferred from "effect/workflow/DurableDeferred"
import * as Workflow from "effect/workflow/Workflow"
import { WorkflowEngine, WorkflowInstance } from "effect/workflow/WorkflowEngine"
import * as Crypto from "node:crypto"
import type * as DurableJob from "../DurableJob.js"
import { DurableJobPool } from "../DurableJobPool.js"
import {
  ForeignJobError,
  InvalidSignalError,
  InvalidTokenError,
  JobDivergedError,
  JobKindError,
  JobNotFoundError,
  JournalStep,
  type NoJobsError,
  StaleJobError,
  StoreError
} from "../Errors.js"
import { ANY_JOB, type Keys, type Ledger, ledger, type Row, storeErrorOf } from "./pool.js"

/** @internal */
export const TypeId: typeof DurableJob.TypeId = Symbol.for("@async-job/durable/DurableJob") as typeof DurableJob.TypeId

/** @internal */
export const make = <
  const Name extends string,
  Payload extends DurableJob.PayloadFields,
  Success extends DurableJob.JobSchema = Schema.Void,
  Error extends DurableJob.JobSchema = Schema.Never,
  W extends DurableJob.Waits = {}
>(
  options: DurableJob.MakeOptions<Name, Payload, Success, Error, W>
): DurableJob.DurableJob<Name, Payload, Success, Error, W> => {
  const version = options.version ?? 1
  const minVersion = options.minVersion ?? 1
  if (!Number.isInteger(version) || !Number.isInteger(minVersion) || minVersion < 1 || minVersion > version) {
    throw new RangeError(`${options.name}: versions must be integers with 1 <= minVersion <= version`)
  }
  // an omitted Schema is the default of its type parameter (`Schema.Void`, `Schema.Never`, no waits)
  const success = (options.success ?? Schema.Void) as Success
  const error = (options.error ?? Schema.Never) as Error
  const workflow: Workflow.Workflow<Name, Schema.Struct<Payload>, Success, Error> = Workflow.make(options.name, {
    payload: Schema.Struct(options.payload),
    success,
    error,
    idempotencyKey: options.jobId
  })
  const self: DurableJob.DurableJob<Name, Payload, Success, Error, W> = {
    [TypeId]: TypeId,
    name: options.name,
    workflow,
    waits: options.waits ?? ({} as W),
    version,
    minVersion
  }
  operations.set(self, makeOperations(workflow))
  return self
}

// -----------------------------------------------------------------------------
// encoding
// -----------------------------------------------------------------------------

/** The JSON codec of a job's exit, as the ledger keeps it. */
const exitCodec = <J extends DurableJob.Any>(self: J) =>
  Schema.toCodecJson(Schema.Exit(self.workflow.successSchema, self.workflow.errorSchema, Schema.Defect()))

const encodeExit = (self: DurableJob.Any, exit: Exit.Exit<unknown, unknown>): Effect.Effect<unknown> =>
  Effect.orDie(Schema.encodeEffect(exitCodec(self))(exit))

const decodeExit = <J extends DurableJob.Any>(
  self: J,
  encoded: unknown
): Effect.Effect<Exit.Exit<DurableJob.SuccessOf<J>, DurableJob.ErrorOf<J>>> =>
  Effect.orDie(Schema.decodeUnknownEffect(exitCodec(self))(encoded))

/** The JSON codec of a job's payload, as the ledger keeps it (to complete a start cut short). */
const payloadCodec = (self: DurableJob.Any) => Schema.toCodecJson(self.workflow.payloadSchema)

// -----------------------------------------------------------------------------
// tokens
// -----------------------------------------------------------------------------

interface TokenParts {
  readonly workflowName: string
  readonly executionId: string
  readonly deferredName: string
}

/** Brands a signed token (it checks nothing: the signature is what makes a token). */
const ResumeToken = Brand.nominal<DurableJob.ResumeToken>()

const signature = (secret: string, body: string) => Crypto.createHmac("sha256", secret).update(body).digest("base64url")

/** A resume token: what it names, and the signature over it by the key that signs (the first of the keys). */
const tokenFor = (keys: Keys, parts: TokenParts): DurableJob.ResumeToken => {
  const body = Buffer.from(JSON.stringify([parts.workflowName, parts.executionId, parts.deferredName])).toString(
    "base64url"
  )
  return ResumeToken(`${body}.${signature(keys.sign, body)}`)
}

/** What a token names, without its signature. */
const bodyOf = (token: string) => token.split(".")[0]!

/**
 * A token the ledger recorded (signed by the key of the runner that paused the job, maybe a key since retired),
 * signed again by the key that signs now: what a caller is given.
 */
const resigned = (keys: Keys, token: string): DurableJob.ResumeToken => {
  const body = bodyOf(token)
  return ResumeToken(`${body}.${signature(keys.sign, body)}`)
}

const TokenBody = Schema.fromJsonString(Schema.Tuple([Schema.String, Schema.String, Schema.String]))

const parseToken = (keys: Keys, token: string): Result.Result<TokenParts, string> => {
  const [body, mac, ...rest] = token.split(".")
  if (body === undefined || mac === undefined || rest.length > 0) return Result.fail("not a resume token")
  const given = Buffer.from(mac)
  const signedByOne = keys.verify.some((key) => {
    const expected = Buffer.from(signature(key, body))
    return expected.length === given.length && Crypto.timingSafeEqual(expected, given)
  })
  if (!signedByOne) return Result.fail("not signed by a key of this store")
  return Result.match(Schema.decodeUnknownResult(TokenBody)(Buffer.from(body, "base64url").toString("utf8")), {
    onFailure: () => Result.fail("not a resume token"),
    onSuccess: ([workflowName, executionId, deferredName]) =>
      Result.succeed({ workflowName, executionId, deferredName })
  })
}

const deferredName = (wait: string, key: string | undefined) => key === undefined ? wait : `${wait}/${key}`

// -----------------------------------------------------------------------------
// the engine, by definition
// -----------------------------------------------------------------------------

/**
 * What the implementation does with a definition's workflow through the
 * engine, typed by its own Schemas: made by {@link make}, where they are
 * known, and kept beside the definition.
 */
interface Operations {
  /** Sends the job's workflow, with its payload as the ledger encoded it. */
  readonly send: (executionId: string, payload: unknown) => Effect.Effect<void, StoreError, WorkflowEngine>
  /**
   * The engine's last word on the job: the exit it journaled (as the ledger encodes it), that its run suspended,
   * or nothing yet (`undefined`: not sent, or running).
   */
  readonly journaled: (
    executionId: string
  ) => Effect.Effect<{ readonly exit: unknown } | "suspended" | undefined, StoreError, WorkflowEngine>
}

const operations = new WeakMap<DurableJob.Any, Operations>()

/**
 * The engine's storage failing (it answers a top-level call with a `PersistenceError` defect while its database is
 * away) as a `StoreError`; other defects stay defects.
 */
const engineUnavailable = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchDefect(
    effect,
    (defect) =>
      typeof defect === "object" && defect !== null && "_tag" in defect && defect._tag === "PersistenceError"
        ? Effect.fail(storeErrorOf(operation, defect))
        : Effect.die(defect)
  )

const operationsOf = (self: DurableJob.Any): Effect.Effect<Operations> => {
  const found = operations.get(self)
  return found === undefined
    ? Effect.die(new TypeError(`${self.name} is not a definition made by DurableJob.make`))
    : Effect.succeed(found)
}

const makeOperations = <
  Name extends string,
  P extends DurableJob.PayloadFields,
  S extends DurableJob.JobSchema,
  E extends DurableJob.JobSchema
>(
  workflow: Workflow.Workflow<Name, Schema.Struct<P>, S, E>
): Operations => {
  const payload = Schema.toCodecJson(workflow.payloadSchema)
  const exit = Schema.toCodecJson(Schema.Exit(workflow.successSchema, workflow.errorSchema, Schema.Defect()))
  return {
    send: (executionId, encoded) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine
        const decoded = yield* Effect.orDie(Schema.decodeUnknownEffect(payload)(encoded))
        yield* engine.execute(workflow, { executionId, payload: decoded, discard: true }).pipe(
          Effect.orDie,
          engineUnavailable("start")
        )
      }),
    journaled: (executionId) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine
        const result = yield* engineUnavailable("read")(engine.poll(workflow, executionId))
        if (Option.isNone(result)) return undefined
        if (result.value._tag === "Suspended") return "suspended" as const
        return { exit: yield* Effect.orDie(Schema.encodeEffect(exit)(result.value.exit)) }
      })
  }
}

// -----------------------------------------------------------------------------
// the body
// -----------------------------------------------------------------------------

/** @internal */
export const toLayer = <
  Name extends string,
  P extends DurableJob.PayloadFields,
  S extends DurableJob.JobSchema,
  E extends DurableJob.JobSchema,
  W extends DurableJob.Waits,
  R
>(
  self: DurableJob.DurableJob<Name, P, S, E, W>,
  body: (payload: Schema.Struct.Type<P>, jobId: string) => Effect.Effect<S["Type"], E["Type"], R>
): Layer.Layer<
  never,
  StoreError,
  | WorkflowEngine
  | DurableJobPool
  | Exclude<R, WorkflowEngine | WorkflowInstance | Workflow.Execution<Name> | Scope.Scope>
> => {
  const registered = self.workflow.toLayer((payload, executionId) =>
    Effect.gen(function*() {
      const pool = ledger(yield* DurableJobPool)
      const instance = yield* WorkflowInstance
      // each run has a scope of its own, which closes when the job ends (finished, failed or cancelled), never at a
      // pause: the last run's with the job's exit, then those of the runs before it (superseded, with a void exit).
      // Only the last run's finalizer records the end. A run abandoned to another process records nothing.
      pool.lastRun.set(executionId, instance)
      yield* Scope.addFinalizer(
        instance.scope,
        Effect.sync(() => {
          if (pool.lastRun.get(executionId) === instance) pool.lastRun.delete(executionId)
        })
      )
      // the end is recorded once the store answers; if it stays away past ENDED_PATIENCE, the sweep records it.
      // A run that suspended (the job paused) has not ended the job: when the engine shuts down it closes that
      // run's scope with a void exit, which is no outcome of the job's
      yield* Workflow.addFinalizer((exit) =>
        pool.lastRun.get(executionId) !== instance || instance.suspended
          ? Effect.void
          : Effect.flatMap(
            encodeExit(self, exit),
            (encoded) => pool.ended(executionId, encoded, runs.get(instance)?.replay?.taken)
          ).pipe(
            ridingOut,
            Effect.timeout(ENDED_PATIENCE),
            Effect.catchCause((cause) => Effect.logWarning(`the end of job ${executionId} is not recorded yet`, cause))
          )
      )
      // recorded running, in one statement, unless the job is diverged or of a version this code does not run
      const { begun, row } = yield* persist(pool.begin(executionId, { min: self.minVersion, max: self.version }))
      // started under a version this code does not run (recorded as diverged, and listed so), or diverged from its
      // journal: left where it is until code that runs it is deployed, or it is cancelled
      const refused = begun || row === undefined ? undefined : divergence(self, row)
      if (refused !== undefined) {
        if (row!.state !== "diverged") yield* persist(pool.diverged(executionId, fieldsOf(refused)))
        return yield* Workflow.suspend(instance)
      }
      const run: Run = { tokens: new Set(), waits: new Map() }
      runs.set(instance, run)
      const replay: Replay = {
        journal: (yield* persist(pool.steps(executionId))).slice(),
        taken: [],
        next: 0,
        divergence: undefined
      }
      run.replay = replay
      const base = yield* WorkflowEngine
      const engine = replaying(base, pool, executionId, yield* Effect.fiberId, replay)
      return yield* body(payload, executionId).pipe(
        Effect.exit,
        Effect.flatMap((exit) => endOfJournal(replay, exit, engine.diverge)),
        Effect.provideService(WorkflowEngine, engine),
        Effect.onExit((exit) =>
          !instance.suspended || !Exit.hasInterrupts(exit)
            ? Effect.void
            : replay.divergence !== undefined
            ? persist(pool.diverged(executionId, replay.divergence, replay.taken))
            : Effect.flatMap(
              superseded(base, run),
              (superseded) =>
                superseded ? Effect.void : persist(pool.paused(executionId, Array.from(run.tokens), replay.taken))
            )
        )
      )
    })
  )
  // every slot is either a live job or free: complete the starts of this kind that a dead process left half done
  const recover = Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    pool.definitions.set(self.name, self)
    for (const row of yield* pool.startingOf(self.name)) yield* send(self, pool, row)
    // the paused jobs of versions this code retired (`minVersion`) are diverged: listed so, and left where they are
    for (const row of yield* pool.retiredOf(self.name, self.minVersion)) {
      const refused = divergence(self, row)
      if (refused !== undefined) yield* pool.diverged(row.jobId, fieldsOf(refused))
    }
    // this code may replay the jobs that earlier code diverged from: run them again (they diverge again, or continue)
    const engine = yield* WorkflowEngine
    for (const row of yield* pool.divergedOf(self.name)) {
      if (divergence(self, { ...row, state: "running" }) !== undefined) continue // a version this code does not run
      yield* pool.running(row.jobId)
      yield* engine.resume(self.workflow, row.jobId)
    }
  })
  return Layer.provide(Layer.effectDiscard(Effect.andThen(recover, sweep(self))), registered)
}

/** How long the end of a job's run waits for the store before it leaves the recording to the sweep. */
const ENDED_PATIENCE = "30 seconds"

/**
 * How often each runner sweeps the ledger for the jobs of a kind that nothing moves (see {@link sweep}), and how
 * long a job must have stayed unchanged to be swept.
 */
const SWEEP_EVERY = Duration.seconds(5)
const STALE_AFTER = Duration.seconds(5)

/**
 * On a shared store, every runner of a kind sweeps the ledger now and then for its jobs that nothing moves:
 * a start cut short between its admission and the workflow's send (a crashed runner; `starting`) is sent, so the
 * job runs or is cancelled, and its slot is not held by nobody; a job recorded `running` whose run the engine
 * finished, with its end not recorded (the store was away too long), gets its end; a job recorded `running` whose
 * run the engine suspended without a pause recorded (a lost wake-up) is run again (a replay). A job is swept once
 * it has stayed unchanged for {@link STALE_AFTER}, so within `STALE_AFTER + SWEEP_EVERY` (10 s) and the time of
 * a read, of the store being back.
 */
const sweep = (self: DurableJob.Any) =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    if (pool.recheck === undefined) return // in memory: nothing outlives the process that would sweep
    const engine = yield* WorkflowEngine
    const operations = yield* operationsOf(self)
    const once = Effect.gen(function*() {
      for (const row of yield* pool.stale(self.name, STALE_AFTER)) {
        if (row.state === "starting") {
          yield* send(self, pool, row)
          continue
        }
        const journaled = yield* operations.journaled(row.jobId)
        if (journaled === "suspended") yield* engine.resume(self.workflow, row.jobId)
        else if (journaled !== undefined) yield* pool.ended(row.jobId, journaled.exit)
      }
    })
    yield* once.pipe(
      Effect.catchCause((cause) => Effect.logDebug(`sweep of ${self.name} jobs`, cause)),
      Effect.repeat(Schedule.spaced(SWEEP_EVERY)),
      Effect.forkScoped
    )
  })

/** @internal */
export const register = (...jobs: ReadonlyArray<DurableJob.Any>): Layer.Layer<never, never, DurableJobPool> =>
  Layer.effectDiscard(Effect.map(DurableJobPool, (pool) => {
    for (const job of jobs) ledger(pool).definitions.set(job.name, job)
  }))

// -----------------------------------------------------------------------------
// replay
// -----------------------------------------------------------------------------

/** How a run diverged from the journal: the fields of `JobDivergedError` but the job's id. */
type Divergence = Omit<ConstructorParameters<typeof JobDivergedError>[0], "jobId">

/**
 * A run of a job against its journal of steps: the activities and waits that
 * the body's own fiber asked for, in order (steps of forked fibers, whose
 * order may change from run to run, are not journaled), and where this run is.
 */
interface Replay {
  readonly journal: Array<JournalStep>
  /** The steps this run took past the journal it read, journaled with its pause or end. */
  readonly taken: Array<readonly [number, JournalStep]>
  next: number
  divergence: Divergence | undefined
}

/**
 * What a run's pauses saw: the tokens of the waits it suspends on, and each
 * wait it read (its deferred, and whether the read has a value, has none, or
 * did not return).
 */
interface Run {
  readonly tokens: Set<string>
  readonly waits: Map<string, Wait>
  /** The run's replay of the journal, once it has read it. */
  replay?: Replay | undefined
}

interface Wait {
  readonly deferred: DurableDeferred.DurableDeferred<DurableJob.JobSchema>
  state: "reading" | "none" | "value"
}

/** The runs of jobs in this process, by their `WorkflowInstance`. */
const runs = new WeakMap<WorkflowInstance["Service"], Run>()

/**
 * Whether a run that suspended was preempted rather than paused: a wait it
 * read without a value, or whose read it did not finish, has a value now
 * (the engine interrupts a run whose awaited wait completes, and runs the job
 * again). Such a run publishes no pause: the job stays `running` until the
 * run that follows pauses or ends.
 */
const superseded = (
  engine: WorkflowEngine["Service"],
  run: Run
): Effect.Effect<boolean, never, WorkflowInstance> =>
  Effect.gen(function*() {
    for (const wait of run.waits.values()) {
      if (wait.state !== "value" && Option.isSome(yield* engine.deferredResult(wait.deferred))) return true
    }
    return false
  })

/** Whether the steps being taken are exempt from the journal's check ({@link unchecked}). */
const Exempt = Context.Reference<boolean>("@async-job/durable/DurableJob/Exempt", { defaultValue: () => false })

/** @internal */
export const unchecked = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, Exempt, true)

const describeStep = (step: JournalStep) => `${step.kind} "${step.name}"`

const divergenceAt = (
  index: number,
  recorded: JournalStep,
  requested: JournalStep | undefined,
  reason: string
): Divergence => ({
  step: `step ${index} (${describeStep(recorded)})`,
  reason,
  index,
  recorded,
  ...(requested === undefined ? {} : { requested })
})

/** A step of the journal, checked: its index, and whether the journal held it (a replay) or it is new. */
interface Checked {
  readonly index: number
  readonly replayed: boolean
}

type Diverge = (divergence: Divergence) => Effect.Effect<never, never, WorkflowInstance>

/**
 * The engine as the body of a run sees it: every activity and wait that the
 * body's fiber asks for is checked against the journal first. A step that
 * differs from the one journaled at its index (another kind or name), or
 * whose journaled result no longer decodes, suspends the run as diverged
 * before anything of it runs; a step past the end of the journal is appended.
 */
const replaying = (
  engine: WorkflowEngine["Service"],
  pool: Ledger,
  executionId: string,
  root: number,
  replay: Replay
): WorkflowEngine["Service"] & { readonly diverge: Diverge } => {
  const diverge: Diverge = (divergence) =>
    Effect.flatMap(WorkflowInstance, (instance) => {
      replay.divergence ??= divergence
      return Workflow.suspend(instance)
    })
  const check = (requested: JournalStep): Effect.Effect<Checked | undefined, never, WorkflowInstance> =>
    Effect.withFiber((fiber): Effect.Effect<Checked | undefined, never, WorkflowInstance> => {
      if (replay.divergence !== undefined) return diverge(replay.divergence)
      if (fiber.getRef(Exempt) || fiber.id !== root) return Effect.succeed(undefined)
      const index = replay.next++
      const recorded = replay.journal[index]
      if (recorded === undefined) {
        replay.journal.push(requested)
        replay.taken.push([index, requested])
        return Effect.succeed({ index, replayed: false })
      }
      if (recorded.kind !== requested.kind || recorded.name !== requested.name) {
        return diverge(divergenceAt(
          index,
          recorded,
          requested,
          `the journal records ${describeStep(recorded)} there; the code asks for ${describeStep(requested)}`
        ))
      }
      return Effect.succeed({ index, replayed: true })
    })
  /** A journaled result (or signalled value) that the code's Schema no longer decodes diverges too. */
  const undecodable = (checked: Checked | undefined, step: JournalStep) => (defect: unknown) =>
    checked?.replayed === true && Schema.isSchemaError(defect)
      ? diverge(divergenceAt(
        checked.index,
        step,
        step,
        `its journaled ${
          step.kind === "activity" ? "result" : "value"
        } does not decode with the code's Schema: ${defect.message}`
      ))
      : Effect.die(defect)
  return {
    ...engine,
    diverge,
    activityExecute: (activity, attempt) => {
      const step: JournalStep = { kind: "activity", name: activity.name }
      return Effect.flatMap(
        check(step),
        (checked) => Effect.catchDefect(engine.activityExecute(activity, attempt), undecodable(checked, step))
      )
    },
    deferredResult: (deferred) => {
      const step: JournalStep = { kind: "wait", name: deferred.name }
      return Effect.flatMap(
        check(step),
        (checked) => Effect.catchDefect(engine.deferredResult(deferred), undecodable(checked, step))
      )
    }
  }
}

/**
 * A run that ended (not suspended, not by a defect) before the steps its
 * journal holds has diverged too: the code no longer reaches them.
 */
const endOfJournal = <A, E>(
  replay: Replay,
  exit: Exit.Exit<A, E>,
  diverge: Diverge
): Effect.Effect<A, E, WorkflowInstance> => {
  const recorded = replay.journal[replay.next]
  const ended = Exit.isSuccess(exit) || !(Cause.hasInterrupts(exit.cause) || Cause.hasDies(exit.cause))
  if (!ended || recorded === undefined || replay.divergence !== undefined) return exit
  return diverge(divergenceAt(replay.next, recorded, undefined, "the code ended before it"))
}

// -----------------------------------------------------------------------------
// pauses
// -----------------------------------------------------------------------------

/** @internal */
export const pause = <W extends DurableJob.Waits, K extends keyof W & string>(
  self: DurableJob.Any & { readonly waits: W },
  wait: K,
  options?: { readonly key?: string | undefined }
): Effect.Effect<W[K]["Type"], never, WorkflowEngine | WorkflowInstance | DurableJobPool> =>
  Effect.gen(function*() {
    const waits: W = self.waits
    const schema = waits[wait]
    if (schema === undefined) return yield* Effect.die(`${self.name} declares no wait fd ${wait}`)
    const name = deferredName(wait, options?.key)
    const deferred = DurableDeferred.make(name, { success: schema })
    const engine = yield* WorkflowEngine
    const instance = yield* WorkflowInstance
    const pool = ledger(yield* DurableJobPool)
    const token = tokenFor(pool.keys, {
      workflowName: self.name,
      executionId: instance.executionId,
      deferredName: name
    })
    const run = runs.get(instance)
    // a wait with no value yet reports its token, then yields before the run suspends, still counted as in flight:
    // the waits awaited beside it (`Effect.all`, whose fibers may not have started yet) reach theirs and report too
    const reporting: WorkflowEngine["Service"] = {
      ...engine,
      deferredResult: (read) => {
        if (read.name !== name) return engine.deferredResult(read)
        const seen: Wait = { deferred, state: "reading" }
        run?.waits.set(name, seen)
        return Effect.tap(engine.deferredResult(read), (result) => {
          seen.state = Option.isSome(result) ? "value" : "none"
          if (Option.isSome(result)) return Effect.void
          run?.tokens.add(token)
          return Effect.yieldNow
        })
      }
    }
    return yield* DurableDeferred.await(deferred).pipe(Effect.provideService(WorkflowEngine, reporting))
  })

/** @internal */
export const token = <W extends DurableJob.Waits, K extends keyof W & string>(
  self: DurableJob.Any & { readonly waits: W },
  wait: K,
  options?: { readonly key?: string | undefined }
): Effect.Effect<DurableJob.ResumeToken, never, WorkflowInstance | DurableJobPool> =>
  Effect.zipWith(
    WorkflowInstance,
    DurableJobPool,
    (instance, pool) =>
      tokenFor(ledger(pool).keys, {
        workflowName: self.name,
        executionId: instance.executionId,
        deferredName: deferredName(wait, options?.key)
      })
  )

// -----------------------------------------------------------------------------
// status
// -----------------------------------------------------------------------------

type StatusOf<J extends DurableJob.Any> = DurableJob.JobStatus<DurableJob.SuccessOf<J>, DurableJob.ErrorOf<J>>

/** Where the ledger says the job is, read with the job's definition. */
const statusOf = <J extends DurableJob.Any>(
  self: J,
  pool: Ledger,
  row: Row
): Effect.Effect<StatusOf<J>, JobKindError | ForeignJobError> => {
  if (row.pool !== pool.name) {
    return Effect.fail(new ForeignJobError({ jobId: row.seq, ownerPoolId: row.poolId, poolId: pool.poolId }))
  }
  if (row.kind !== self.name) {
    return Effect.fail(new JobKindError({ jobId: row.jobId, expected: self.name, actual: row.kind }))
  }
  const jobId = row.jobId
  switch (row.state) {
    case "starting":
    case "running":
      return Effect.succeed({ _tag: "Running", jobId })
    case "paused":
      return Effect.succeed({ _tag: "Paused", jobId, tokens: row.tokens.map((token) => resigned(pool.keys, token)) })
    case "diverged":
      // suspended on no token; `poll`, `start` and `resume` answer its divergence instead
      return Effect.succeed({ _tag: "Paused", jobId, tokens: [] })
    case "ended":
      return Effect.map(
        decodeExit(self, row.exit),
        (exit): StatusOf<J> =>
          Exit.isSuccess(exit)
            ? { _tag: "Finished", jobId, value: exit.value }
            : Cause.hasInterruptsOnly(exit.cause)
            ? { _tag: "Cancelled", jobId }
            : { _tag: "Failed", jobId, cause: exit.cause }
      )
  }
}

const getRow = (self: DurableJob.Any, pool: Ledger, jobId: string) =>
  Effect.flatMap(
    pool.get(jobId),
    (row) => row === undefined ? Effect.fail(new JobNotFoundError({ job: self.name, jobId })) : Effect.succeed(row)
  )

const DivergenceJson = Schema.Struct({
  step: Schema.String,
  reason: Schema.String,
  index: Schema.optional(Schema.Number),
  recorded: Schema.optional(JournalStep),
  requested: Schema.optional(JournalStep)
})

/**
 * Whether this code runs the job: the version it was started under is one the
 * definition supports, and its last run did not diverge from its journal.
 */
const divergence = (self: DurableJob.Any, row: Row): JobDivergedError | undefined => {
  if (row.version < self.minVersion || row.version > self.version) {
    return new JobDivergedError({
      jobId: row.jobId,
      step: "version",
      reason: `started under version ${row.version}; this code runs versions ${self.minVersion} to ${self.version}`
    })
  }
  if (row.state !== "diverged") return undefined
  return Result.match(Schema.decodeUnknownResult(DivergenceJson)(row.diverged), {
    onFailure: () => new JobDivergedError({ jobId: row.jobId, step: "unknown", reason: "the journal diverged" }),
    onSuccess: (fields) => new JobDivergedError({ jobId: row.jobId, ...fields })
  })
}

/** The fields of a divergence as the ledger records them. */
const fieldsOf = (error: JobDivergedError): Divergence => {
  const { jobId: _, ...fields } = error
  return {
    step: fields.step,
    reason: fields.reason,
    ...(fields.index === undefined ? {} : { index: fields.index }),
    ...(fields.recorded === undefined ? {} : { recorded: fields.recorded }),
    ...(fields.requested === undefined ? {} : { requested: fields.requested })
  }
}

/** @internal */
export const version = (self: DurableJob.Any): Effect.Effect<number, never, WorkflowInstance | DurableJobPool> =>
  Effect.gen(function*() {
    const instance = yield* WorkflowInstance
    const row = yield* persist(ledger(yield* DurableJobPool).get(instance.executionId))
    return row?.version ?? self.version
  })

/** @internal */
export const poll = <J extends DurableJob.Any>(
  self: J,
  jobId: string
): Effect.Effect<StatusOf<J>, DurableJob.LookupError, DurableJobPool> =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    const row = yield* getRow(self, pool, jobId)
    const status = yield* statusOf(self, pool, row)
    const diverged = divergence(self, row)
    if (diverged !== undefined && (status._tag === "Running" || status._tag === "Paused")) return yield* diverged
    return status
  })

type Settled<J extends DurableJob.Any> = Exclude<StatusOf<J>, DurableJob.Running>

/**
 * Reads the job until it is settled (not `Running`) and `done` accepts its
 * status, waking up when the ledger says the job changed (no timer: the job's
 * runs publish each change, across processes on Postgres).
 */
const waitFor = <J extends DurableJob.Any>(
  self: J,
  pool: Ledger,
  jobId: string,
  done: (status: Settled<J>) => boolean,
  cancelling = false
): Effect.Effect<readonly [Settled<J>, Row], DurableJob.LookupError> =>
  Effect.scoped(Effect.gen(function*() {
    // subscribe before reading, so that no change between the read and the wait is missed
    const changes = yield* pool.changes
    const changed = nextChange(changes, jobId)
    const wake = pool.recheck === undefined ? changed : Effect.timeoutOption(changed, pool.recheck)
    while (true) {
      // a wait rides out an outage of the store: its reads are tried again until the store answers
      const row = yield* ridingOut(getRow(self, pool, jobId))
      const status = yield* statusOf(self, pool, row)
      const diverged = cancelling ? undefined : divergence(self, row)
      if (diverged !== undefined && row.state === "diverged") return yield* diverged
      if (status._tag !== "Running" && done(status)) return [status, row] as const
      if (diverged !== undefined) return yield* diverged
      yield* wake
    }
  }))

/** Until the job changes, or changes may have been missed (`ANY_JOB`). */
const nextChange = (changes: PubSub.Subscription<string>, jobId: string): Effect.Effect<void> =>
  Effect.flatMap(
    PubSub.take(changes),
    (id) => id === jobId || id === ANY_JOB ? Effect.void : nextChange(changes, jobId)
  )

/**
 * Whether a store error says the store is away for now (a lost connection, a server restarting) or cannot take
 * writes until an operator frees space: a job's run waits for it, as the engine's own writes do.
 */
const isUnavailable = (error: { readonly _tag: string }): boolean =>
  error instanceof StoreError && (error.reason === "unavailable" || error.reason === "full")

/** How store operations that must not fail are tried again while the store is away: 100 ms, doubling to 1 s. */
const OUTAGE_RETRY = Schedule.min([Schedule.exponential("100 millis", 2), Schedule.spaced("1 second")])

/** Tries `effect` again, while the store is unavailable, until it answers. */
const ridingOut = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, { while: isUnavailable, schedule: OUTAGE_RETRY })

/**
 * A ledger write of a job's run: tried again while the store is unavailable (the run waits for the store, as the
 * engine's own writes do); any other store error is a defect of the run.
 */
const persist = <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, never, R> =>
  Effect.orDie(ridingOut(effect))

/** Turns a settled status into the answer of `start` or `resume`. */
const toStep = <A, E>(
  pool: Ledger,
  row: Row,
  settled: Exclude<DurableJob.JobStatus<A, E>, DurableJob.Running>
): Effect.Effect<DurableJob.Step<A>, E | StaleJobError> => {
  switch (settled._tag) {
    case "Paused":
    case "Finished":
      return Effect.succeed(settled)
    case "Cancelled":
      return Effect.fail(new StaleJobError({ jobId: row.seq, poolId: pool.poolId, state: "cancelled" }))
    case "Failed":
      return Effect.failCause(settled.cause)
  }
}

/**
 * Sends the workflow of a job whose slot is taken (`starting`): its first run records it `running`. Sending it
 * again is harmless (the engine keeps one run request per job), so a start cut short is completed by sending.
 */
const send = (self: DurableJob.Any, pool: Ledger, row: Row): Effect.Effect<void, StoreError, WorkflowEngine> =>
  Effect.gen(function*() {
    const operations = yield* operationsOf(self)
    yield* operations.send(row.jobId, row.payload)
    // a job the ledger forgot (purged) that the engine had finished: record the result the engine journaled
    const journaled = yield* operations.journaled(row.jobId)
    if (journaled !== undefined && journaled !== "suspended") yield* pool.ended(row.jobId, journaled.exit)
  })

/** @internal */
export const jobId = <J extends DurableJob.Any>(self: J, payload: DurableJob.PayloadOf<J>): Effect.Effect<string> =>
  self.workflow.executionId(payload)

/** @internal */
export const start = <J extends DurableJob.Any>(
  self: J,
  payload: DurableJob.PayloadOf<J>
): Effect.Effect<
  DurableJob.Step<DurableJob.SuccessOf<J>>,
  DurableJob.ErrorOf<J> | NoJobsError | StaleJobError | DurableJob.LookupError,
  WorkflowEngine | DurableJobPool
> =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    pool.definitions.set(self.name, self)
    const value = self.workflow.payloadSchema.make(payload)
    const id = yield* self.workflow.executionId(value)
    const encoded = yield* Effect.orDie(Schema.encodeEffect(payloadCodec(self))(value))
    // the slot and the job's record in one transaction; a job started before keeps its slot and is not counted twice
    const row = yield* pool.admit(id, self.name, self.version, encoded)
    if (row.state === "starting") yield* send(self, pool, row)
    const [settled, now] = yield* waitFor(self, pool, id, () => true)
    return yield* toStep(pool, now, settled)
  }).pipe(Effect.withSpan("DurableJob.start", { attributes: { "async_job.job": self.name } }))

/** Whether two pauses wait on the same waits (their tokens name the same waits, whichever keys signed them). */
const sameTokens = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => {
  const names = b.map(bodyOf)
  return a.length === b.length && a.every((token) => names.includes(bodyOf(token)))
}

/** @internal */
export const resume = <J extends DurableJob.Any>(
  self: J,
  handle: string | DurableJob.Paused
): Effect.Effect<
  DurableJob.Step<DurableJob.SuccessOf<J>>,
  DurableJob.ErrorOf<J> | StaleJobError | DurableJob.LookupError,
  WorkflowEngine | DurableJobPool
> =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    const id = typeof handle === "string" ? handle : handle.jobId
    let from: ReadonlyArray<string>
    if (typeof handle === "string") {
      const [now, row] = yield* waitFor(self, pool, id, () => true)
      if (now._tag !== "Paused") return yield* toStep(pool, row, now)
      from = now.tokens
    } else {
      from = handle.tokens
    }
    const [next, row] = yield* waitFor(
      self,
      pool,
      id,
      (status) => !(status._tag === "Paused" && sameTokens(status.tokens, from))
    )
    return yield* toStep(pool, row, next)
  }).pipe(Effect.withSpan("DurableJob.resume", { attributes: { "async_job.job": self.name } }))

/** @internal */
export const cancel = <J extends DurableJob.Any>(
  self: J,
  id: string
): Effect.Effect<StatusOf<J>, DurableJob.LookupError, WorkflowEngine | DurableJobPool> =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    const row = yield* getRow(self, pool, id)
    const now = yield* statusOf(self, pool, row)
    if (now._tag !== "Running" && now._tag !== "Paused") return now
    // a start cut short by a crash: complete it, so that the engine has a job to cancel
    if (row.state === "starting") yield* send(self, pool, row)
    yield* Effect.flatMap(WorkflowEngine, (engine) => engine.interrupt(self.workflow, id)).pipe(
      engineUnavailable("cancel")
    )
    const [ended] = yield* waitFor(self, pool, id, (status) => status._tag !== "Paused", true)
    return ended
  }).pipe(Effect.withSpan("DurableJob.cancel", { attributes: { "async_job.job": self.name } }))

// -----------------------------------------------------------------------------
// signals
// -----------------------------------------------------------------------------

/** @internal */
export const signal = (
  token: string,
  value: unknown
): Effect.Effect<
  void,
  InvalidTokenError | InvalidSignalError | JobNotFoundError | StoreError,
  WorkflowEngine | DurableJobPool
> =>
  Effect.gen(function*() {
    const pool = ledger(yield* DurableJobPool)
    const parsed = parseToken(pool.keys, token)
    if (Result.isFailure(parsed)) return yield* new InvalidTokenError({ token, reason: parsed.failure })
    const { deferredName: name, executionId, workflowName } = parsed.success
    const row = yield* pool.get(executionId)
    if (row === undefined) return yield* new JobNotFoundError({ job: workflowName, jobId: executionId })
    const self = pool.definitions.get(workflowName)
    if (self === undefined) {
      return yield* new InvalidTokenError({ token, reason: `no durable job named ${workflowName} is registered` })
    }
    const wait = name.split("/")[0]!
    const schema = self.waits[wait]
    if (schema === undefined) {
      return yield* new InvalidTokenError({ token, reason: `${workflowName} declares no wait fd ${wait}` })
    }
    const valid = Schema.decodeUnknownResult(Schema.toType(schema))(value)
    if (Result.isFailure(valid)) {
      return yield* new InvalidSignalError({ job: workflowName, waitFd: wait, reason: valid.failure.message })
    }
    const engine = yield* WorkflowEngine
    yield* engine.deferredDone(DurableDeferred.make(name, { success: schema }), {
      workflowName,
      executionId,
      deferredName: name,
      exit: Exit.succeed(valid.success)
    }).pipe(
      // e.g. the runner that owns the job is unreachable (failover): the signal may be recorded; sending it again is safe
      Effect.catchDefect((defect) =>
        Effect.fail(
          new StoreError({ operation: "signal", reason: "unavailable", detail: Cause.pretty(Cause.die(defect)) })
        )
      )
    )
  }).pipe(Effect.withSpan("DurableJob.signal"))
