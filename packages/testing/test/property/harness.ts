/**
 * Runs a program against the real engine and the reference model in
 * lockstep, and checks after every step that they agree: the step's outcome,
 * the exact sequence of engine events and cleanups it caused, every pool's
 * counts, every wait ctx's fds and changed fds, every job's state. Once the
 * program is over it closes everything and checks that nothing is left: no
 * job, no slot, no open fd, no fiber, each finalizer run exactly once.
 */
import { AsyncJob, JobObserver, JobPool, WaitCtx, WaitFd } from "@async-job/core"
import { Cause, Data, Deferred, Effect, Exit, Fiber, Option, Result, Scope } from "effect"
import { makeFiberCounter } from "../fibers.js"
import { canonical, Model, type Outcome, type StepPrediction } from "./model.js"
import type { Op, Program, Script } from "./program.js"

export class BodyError extends Data.TaggedError("BodyError") {}
export class BodyDefect extends Data.TaggedError("BodyDefect") {}

/** A disagreement between the engine and the model. */
export class Mismatch extends Error {
  constructor(readonly step: number, readonly op: Op | "end", message: string) {
    super(`step ${step} ${JSON.stringify(op)}: ${message}`)
  }
}

const tagOf = (u: unknown): string =>
  typeof u === "object" && u !== null && "_tag" in u ? String((u as { _tag: unknown })._tag) : String(u)

/** The outcome of a step, in the model's notation. */
export const classify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) {
    const value = exit.value
    if (value === undefined) return "void"
    if (typeof value === "boolean") return `bool:${value}`
    const step = value as AsyncJob.JobResult<unknown, unknown>
    return step._tag === "Paused" ? "paused" : `finished:${String(step.value)}`
  }
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) return "interrupted"
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return `fail:${tagOf(failure.value)}`
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `die:${tagOf(defect.success)}`
  return `cause:${Cause.pretty(cause)}`
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

export interface RunOptions {
  /** Called with each step's real log, for debugging. */
  readonly trace?: ((line: string) => void) | undefined
}

/** Runs one program; fails with a {@link Mismatch} defect on the first disagreement. */
export const runProgram = (program: Program, options: RunOptions = {}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const fibers = makeFiberCounter()
    yield* fibers.count(runChecked(program, options))
    const alive = fibers.alive()
    if (alive > 0) throw new Mismatch(program.ops.length, "end", `${alive} fibers still alive`)
  })

const runChecked = (program: Program, options: RunOptions): Effect.Effect<void> =>
  Effect.gen(function*() {
    const model = new Model(program)
    let log: Array<string> = []
    const poolIds = new Map<number, number>()
    const ctxIds = new Map<number, number>()
    const jobIds = new Map<number, number>()
    const fdIds = new Map<number, number>()
    let nextEntry = 1
    const closedFds = new Set<number>()
    const handles = new Map<number, AsyncJob.Job>()
    const bodyFibers = new Set<Fiber.Fiber<unknown, unknown>>()
    const finalized = new Map<number, number>()
    let hangReached: Deferred.Deferred<void> | undefined
    let step = 0
    let current: Op | "end" = "end"
    const mismatch = (message: string) => new Mismatch(step, current, message)

    const observer: JobObserver.JobObserver = {
      onEvent: (event) => {
        switch (event._tag) {
          case "Started":
            jobIds.set(event.jobId, jobIds.size + 1)
            log.push(`Started p${poolIds.get(event.poolId)} j${jobIds.get(event.jobId)}`)
            break
          case "Paused":
          case "Resumed":
          case "CancelRequested":
            log.push(`${event._tag} p${poolIds.get(event.poolId)} j${jobIds.get(event.jobId)}`)
            break
          case "Ended":
            log.push(`Ended p${poolIds.get(event.poolId)} j${jobIds.get(event.jobId)} ${event.outcome}`)
            break
          case "NoJobs":
          case "PoolClosed":
            log.push(`${event._tag} p${poolIds.get(event.poolId)}`)
            break
          case "CleanupRan":
            log.push(`CleanupRan w${ctxIds.get(event.waitCtxId)} ${String(event.key)} e${fdIds.get(event.fd)}`)
            break
          case "WaitCtxClosed":
            log.push(`WaitCtxClosed w${ctxIds.get(event.waitCtxId)}`)
            break
        }
      }
    }

    const closeFd = (id: number) => {
      if (closedFds.has(id)) throw mismatch(`fd e${id} closed twice`)
      closedFds.add(id)
    }

    const setFd = (ctx: WaitCtx.WaitCtx, ctxIndex: number, key: number, cleanup: boolean) =>
      Effect.suspend(() => {
        const fd = WaitFd.makeUnsafe()
        const options = cleanup ?
          {
            cleanup: () =>
              Effect.sync(() => {
                const id = fdIds.get(fd.fd)!
                log.push(`fdclean w${ctxIndex} e${id}`)
                closeFd(id)
              })
          } :
          undefined
        return Effect.andThen(
          WaitCtx.setWaitFd(ctx, `k${key}`, fd, options),
          Effect.sync(() => {
            fdIds.set(fd.fd, nextEntry++)
          })
        )
      })

    const clearFd = (ctx: WaitCtx.WaitCtx, key: number) =>
      Effect.flatMap(WaitCtx.getFd(ctx, `k${key}`), (found) => {
        // the caller closes the descriptor itself, then clears it (§2.9)
        if (Option.isSome(found)) closeFd(fdIds.get(found.value.fd.fd)!)
        return WaitCtx.clearFd(ctx, `k${key}`)
      })

    const body = (id: number, ctxIndex: number | null, script: Script) =>
      Effect.gen(function*() {
        yield* Effect.withFiber<void>((fiber) => {
          bodyFibers.add(fiber)
          return Effect.void
        })
        const self = Option.getOrThrow(yield* AsyncJob.current)
        handles.set(id, self)
        const ctx = Option.getOrUndefined(AsyncJob.waitCtxUnsafe(self))
        if ((ctx === undefined) !== (ctxIndex === null)) throw mismatch(`job ${id} has the wrong wait ctx`)
        for (const instr of script.instrs) {
          switch (instr._tag) {
            case "Pause":
              yield* AsyncJob.pause
              break
            case "PauseUninterruptible":
              yield* Effect.uninterruptible(AsyncJob.pause)
              break
            case "PauseInFinalizer":
              yield* Effect.ensuring(Effect.void, AsyncJob.pause)
              break
            case "Block":
              yield* AsyncJob.blockPause
              break
            case "Unblock":
              yield* AsyncJob.unblockPause
              break
            case "SetFd":
              if (ctx !== undefined) yield* setFd(ctx, ctxIndex!, instr.key, instr.cleanup)
              break
            case "ClearFd":
              if (ctx !== undefined) yield* clearFd(ctx, instr.key)
              break
          }
        }
        const end = script.end
        switch (end._tag) {
          case "Return":
            return end.value
          case "Fail":
            return yield* new BodyError()
          case "Die":
            return yield* Effect.die(new BodyDefect())
          case "Hang":
            yield* Deferred.succeed(hangReached!, undefined)
            return yield* Effect.never
        }
      }).pipe(Effect.ensuring(Effect.sync(() => {
        log.push(`fin j${id}`)
        finalized.set(id, (finalized.get(id) ?? 0) + 1)
      })))

    // the world: pools and wait ctxs, each in its own scope so that a step can close it
    const poolScopes: Array<Scope.Closeable> = []
    const pools: Array<JobPool.JobPool> = []
    for (const [i, spec] of program.pools.entries()) {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make(spec), scope).pipe(
        Effect.provideService(JobObserver.JobObserver, observer),
        Effect.orDie
      )
      poolIds.set(pool.id, i)
      poolScopes.push(scope)
      pools.push(pool)
    }
    const ctxScopes: Array<Scope.Closeable> = []
    const ctxs: Array<WaitCtx.WaitCtx> = []
    for (let i = 0; i < program.ctxs; i++) {
      const scope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, scope).pipe(
        Effect.provideService(JobObserver.JobObserver, observer)
      )
      ctxIds.set(ctx.id, i)
      ctxScopes.push(scope)
      ctxs.push(ctx)
    }

    const real = (op: Op, { job, target }: StepPrediction): Effect.Effect<unknown, unknown> => {
      switch (op._tag) {
        case "Start": {
          const options = op.ctx === null ? undefined : { waitCtx: ctxs[op.ctx]! }
          // when the model refuses the start, the body must not run at all (checked by `fin` lines)
          return pools[op.pool]!.start(body(job?.id ?? -1, op.ctx, op.script), options)
        }
        case "Resume":
        case "Cancel": {
          const handle = handles.get(target!.id)!
          const pool = pools[op.via ?? target!.pool]!
          return op._tag === "Resume" ? pool.resume(handle) : pool.cancel(handle)
        }
        case "SetFd":
          return setFd(ctxs[op.ctx]!, op.ctx, op.key, op.cleanup)
        case "ClearFd":
          return clearFd(ctxs[op.ctx]!, op.key)
        case "CloseCtx":
          return Scope.close(ctxScopes[op.ctx]!, Exit.void)
        case "ClosePool":
          return Scope.close(poolScopes[op.pool]!, Exit.void)
        case "Reconfigure":
          return pools[op.pool]!.reconfigure({ maxSize: op.maxSize, initSize: op.initSize })
      }
    }

    const expectLog = (expected: ReadonlyArray<string>, concurrent: boolean, what: string) => {
      const actual = canonical(log, concurrent)
      if (!same(actual, canonical(expected, concurrent))) {
        throw mismatch(`${what}: log ${JSON.stringify(log)}, model ${JSON.stringify(expected)}`)
      }
      options.trace?.(`${step} ${JSON.stringify(current)} ${JSON.stringify(log)}`)
      log = []
    }

    const checkState = Effect.gen(function*() {
      for (const [i, pool] of pools.entries()) {
        const expected = model.pools[i]!
        const stats = yield* pool.stats
        const want = expected.closed
          ? { running: 0, paused: 0 }
          : {
            maxSize: expected.maxSize,
            created: expected.created,
            idle: expected.idle,
            running: expected.running,
            paused: expected.paused
          }
        const got = expected.closed ? { running: stats.running, paused: stats.paused } : stats
        if (!same(got, want)) throw mismatch(`pool ${i} stats ${JSON.stringify(got)}, model ${JSON.stringify(want)}`)
      }
      for (const [i, ctx] of ctxs.entries()) {
        const expected = model.ctxs[i]!
        const open = yield* WaitCtx.isOpen(ctx)
        if (open === expected.closed) throw mismatch(`ctx ${i} open ${open}`)
        if (!open) continue
        const all = (yield* WaitCtx.getAllFds(ctx)).map((fd) => fdIds.get(fd.fd))
        const wantAll = model.liveEntries(i).map((entry) => entry.id)
        if (!same(all, wantAll)) throw mismatch(`ctx ${i} fds ${JSON.stringify(all)}, model ${JSON.stringify(wantAll)}`)
        const changed = yield* WaitCtx.getChangedFds(ctx)
        const got = {
          added: changed.added.map((fd) => fdIds.get(fd.fd)),
          deleted: changed.deleted.map((fd) => fdIds.get(fd.fd))
        }
        const want = model.changed(i)
        if (!same(got, want)) {
          throw mismatch(`ctx ${i} changed ${JSON.stringify(got)}, model ${JSON.stringify(want)}`)
        }
      }
      for (const job of model.jobs) {
        const handle = handles.get(job.id)
        if (handle === undefined) throw mismatch(`job ${job.id} never ran`)
        const state = AsyncJob.stateUnsafe(handle)
        if (state !== job.state) throw mismatch(`job ${job.id} state ${state}, model ${job.state}`)
        const runs = finalized.get(job.id) ?? 0
        const ended = job.state !== "running" && job.state !== "paused"
        if (runs !== (ended ? 1 : 0)) throw mismatch(`job ${job.id} finalized ${runs} times`)
      }
    })

    for (const op of program.ops) {
      step++
      current = op
      const prediction = model.step(op)
      if (prediction.outcome === "skip") continue
      const effect = real(op, prediction)
      if (prediction.hang === undefined) {
        const exit = yield* Effect.exit(effect)
        const outcome = classify(exit)
        if (outcome !== prediction.outcome) throw mismatch(`outcome ${outcome}, model ${prediction.outcome}`)
        if (Exit.isSuccess(exit) && (exit.value as { _tag?: string } | undefined)?._tag === "Paused") {
          const handle = (exit.value as AsyncJob.Paused<unknown, unknown>).job
          if (handle !== handles.get(prediction.job!.id)) throw mismatch("the handle differs from the current job")
        }
        expectLog(prediction.log, prediction.concurrent, "step")
      } else {
        // the segment hangs: check the job is seen running, then stop it as the program says
        const job = prediction.job!
        hangReached = yield* Deferred.make<void>()
        const caller = yield* Effect.forkChild(effect)
        yield* Deferred.await(hangReached)
        expectLog(prediction.log, false, "before the hang")
        const handle = handles.get(job.id)!
        const probe = classify(yield* Effect.exit(pools[job.pool]!.resume(handle)))
        if (probe !== "fail:JobNotPausedError") throw mismatch(`resuming a running job: ${probe}`)
        yield* checkState
        const stopped = model.hang(job, prediction.hang)
        if (prediction.hang === "closePool") yield* Scope.close(poolScopes[job.pool]!, Exit.void)
        else if (prediction.hang === "closeCtx" && job.ctx !== null) yield* Scope.close(ctxScopes[job.ctx]!, Exit.void)
        else yield* Fiber.interrupt(caller)
        const outcome = classify(yield* Fiber.await(caller))
        if (outcome !== prediction.outcome) throw mismatch(`hung caller's outcome ${outcome}`)
        expectLog(stopped.log, stopped.concurrent, "stopping the hang")
      }
      yield* checkState
    }

    // the end: close every wait ctx, then every pool; nothing may be left
    step++
    current = "end"
    const closing = model.closeAll()
    const scopes = [...ctxScopes, ...poolScopes]
    for (const [i, scope] of scopes.entries()) {
      yield* Scope.close(scope, Exit.void)
      expectLog(closing[i]!, true, `closing ${i < ctxScopes.length ? "ctx" : "pool"}`)
    }
    yield* checkState
    for (const job of model.jobs) {
      if (finalized.get(job.id) !== 1) throw mismatch(`job ${job.id} finalized ${finalized.get(job.id)} times`)
    }
    for (const [id, fd] of model.fds) {
      if (fd.closed !== closedFds.has(id)) throw mismatch(`fd e${id} closed: ${closedFds.has(id)}, model ${fd.closed}`)
      if (fd.cleanup && !fd.closed) throw mismatch(`fd e${id} leaked`)
    }
    for (const pool of pools) {
      const stats = yield* pool.stats
      if (stats.running + stats.paused !== 0) throw mismatch(`pool ${pool.id} still has jobs`)
    }
    for (const fiber of bodyFibers) {
      if (fiber.pollUnsafe() === undefined) throw mismatch(`a job fiber ${fiber.id} is still alive`)
    }
  })

/** Whether a program fails (disagrees with the model, dies, or hangs). */
export const fails = (program: Program): Promise<boolean> =>
  Effect.runPromise(
    runProgram(program).pipe(Effect.timeout("10 seconds"), Effect.exit, Effect.map(Exit.isFailure))
  )

/**
 * Makes a failing program as small as it stays failing: drops runs of steps (halves first, then smaller),
 * then instructions of job bodies. fast-check's own shrinking cannot go below the 30 steps the generator
 * asks for; this can.
 */
export const minimize = async (program: Program): Promise<Program> => {
  let best = program
  for (let size = Math.ceil(best.ops.length / 2); size >= 1; size = size === 1 ? 0 : Math.ceil(size / 2)) {
    for (let at = 0; at < best.ops.length;) {
      const candidate = { ...best, ops: [...best.ops.slice(0, at), ...best.ops.slice(at + size)] }
      if (await fails(candidate)) best = candidate
      else at += size
    }
  }
  for (let i = 0; i < best.ops.length; i++) {
    const op = best.ops[i]!
    if (op._tag !== "Start") continue
    for (let j = op.script.instrs.length - 1; j >= 0; j--) {
      const current = best.ops[i] as typeof op
      const instrs = current.script.instrs.filter((_, k) => k !== j)
      const ops = best.ops.slice()
      ops[i] = { ...current, script: { ...current.script, instrs } }
      const candidate = { ...best, ops }
      if (await fails(candidate)) best = candidate
    }
  }
  return best
}
