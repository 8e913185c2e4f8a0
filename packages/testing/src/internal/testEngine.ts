import * as AsyncJob from "@async-job/core/AsyncJob"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as api from "../TestEngine.js"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface Op {
  readonly submission: Mutable<api.Submission>
  readonly ctx: WaitCtx.WaitCtx | undefined
  fd: WaitFd.InProcessWaitFd | undefined
  result: Exit.Exit<unknown, api.OperationFailedError> | undefined
  timer: Fiber.Fiber<void> | undefined
  /** fibers waiting on the spot (sync mode) */
  readonly waiters: Set<() => void>
}

interface Watcher {
  readonly count: number
  readonly wake: () => void
}

let nextEngine = 1

/** @internal */
export const make = (options: api.Options = {}): Effect.Effect<api.TestEngine, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    const key = Symbol(`TestEngine#${nextEngine++}`)
    const ops: Array<Op> = []
    const fds = new Set<WaitFd.WaitFd>()
    const watchers = new Set<Watcher>()
    const respond = options.respond ?? ((submission: api.Submission) => submission.input)
    let refusals = 0

    const snapshot = (op: Op): api.Submission => ({ ...op.submission })

    const record = (name: string, input: unknown, mode: api.Mode, job?: AsyncJob.Job, ctx?: WaitCtx.WaitCtx): Op => {
      const op: Op = {
        submission: {
          id: ops.length + 1,
          name,
          input,
          jobId: job?.id,
          waitCtxId: ctx?.id,
          mode,
          state: "pending",
          attempts: 0,
          pauses: 0
        },
        ctx,
        fd: undefined,
        result: undefined,
        timer: undefined,
        waiters: new Set()
      }
      ops.push(op)
      return op
    }

    /**
     * Wakes whoever waits for this many submissions. Called once an operation has been accepted (its fd
     * registered, its status set, its latency timer started), not when it is recorded: effect 4 resumes a
     * waiting fiber on the stack of whoever wakes it, so the test's code runs at once, in the middle of the
     * submission, and may complete the operation there.
     */
    const announce = (): void => {
      for (const watcher of Array.from(watchers)) {
        if (ops.length >= watcher.count) watcher.wake()
      }
    }

    /** Tells the application that the operation is done, the way its mode does. */
    const notify = (op: Op): Effect.Effect<void> => {
      switch (op.submission.mode) {
        case "fd":
          return Effect.sync(() => op.fd!.signalUnsafe())
        case "callback": {
          const ctx = op.ctx!
          return Effect.flatMap(WaitCtx.isOpen(ctx), (open) => {
            if (!open) return Effect.void
            // status OK: call the callback; any other outcome is reported through the status
            return Exit.isSuccess(op.result!)
              ? Effect.asVoid(WaitCtx.invokeCallback(ctx))
              : WaitCtx.setStatus(ctx, "err")
          })
        }
        case "sync":
          return Effect.sync(() => {
            for (const wake of Array.from(op.waiters)) wake()
          })
        case "poll":
          return Effect.void
      }
    }

    const settle = (op: Op, result: Exit.Exit<unknown, api.OperationFailedError>): Effect.Effect<void> =>
      Effect.suspend(() => {
        op.result = result
        op.submission.state = Exit.isSuccess(result) ? "completed" : "failed"
        const timer = op.timer
        op.timer = undefined
        if (timer !== undefined) timer.interruptUnsafe()
        return notify(op)
      })

    const abandon = (op: Op): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (op.result !== undefined || op.submission.state !== "pending") return Effect.void
        op.submission.state = "abandoned"
        const timer = op.timer
        op.timer = undefined
        timer?.interruptUnsafe()
        return Effect.void
      })

    /** The operation has been accepted: start its latency timer, if any. */
    const accept = (op: Op): Effect.Effect<void> => {
      const latency = options.latency
      if (latency === undefined) return Effect.void
      const timer = Effect.sleep(latency).pipe(
        Effect.andThen(Effect.suspend(() => {
          if (op.result !== undefined || op.submission.state !== "pending") return Effect.void
          op.timer = undefined
          return settle(op, Exit.succeed(respond(snapshot(op))))
        }))
      )
      return Effect.map(Effect.forkIn(timer, scope), (fiber) => {
        op.timer = fiber
      })
    }

    /** dasync / QAT: one wait fd per wait ctx, created on first use and reused afterwards. */
    const stableFd = (ctx: WaitCtx.WaitCtx): Effect.Effect<WaitFd.InProcessWaitFd> =>
      Effect.flatMap(WaitCtx.getFd(ctx, key), (found) => {
        if (Option.isSome(found)) return Effect.succeed(found.value.fd as WaitFd.InProcessWaitFd)
        const fd = WaitFd.makeUnsafe()
        fds.add(fd)
        return Effect.as(
          WaitCtx.setWaitFd(ctx, key, fd, { cleanup: () => Effect.sync(() => fds.delete(fd)) }),
          fd
        )
      })

    const pauseFor = (op: Op): Effect.Effect<void> =>
      Effect.suspend(() => {
        op.submission.pauses++
        return Effect.andThen(
          AsyncJob.pause,
          // reading the byte: consume the readiness once resumed
          Effect.sync(() => op.fd?.clearUnsafe())
        )
      })

    const submitInJob = (job: AsyncJob.Job, name: string, input: unknown) =>
      Effect.gen(function*() {
        const ctx = Option.getOrUndefined(AsyncJob.waitCtxUnsafe(job))
        const callback = ctx === undefined ? Option.none() : yield* WaitCtx.getCallback(ctx)
        const mode: api.Mode = ctx === undefined ? "poll" : Option.isSome(callback) ? "callback" : "fd"
        const op = record(name, input, mode, job, ctx)
        return yield* Effect.gen(function*() {
          if (mode === "fd") op.fd = yield* stableFd(ctx!)
          op.submission.attempts++
          while (refusals > 0) {
            // the ring is full (EAGAIN): tell the application to resume us, then submit again
            refusals--
            if (mode === "callback") yield* WaitCtx.setStatus(ctx!, "eagain")
            else op.fd?.signalUnsafe()
            yield* pauseFor(op)
            op.submission.attempts++
          }
          if (mode === "callback") yield* WaitCtx.setStatus(ctx!, "ok")
          yield* accept(op)
          announce()
          while (op.result === undefined) {
            yield* pauseFor(op)
            // resumed before completion (a resume is only a hint), or the pause was blocked: try again
            if (op.result === undefined) yield* Effect.yieldNow
          }
          return yield* op.result
        }).pipe(Effect.onInterrupt(() => abandon(op)))
      })

    const submitInPlace = (name: string, input: unknown) =>
      Effect.suspend(() => {
        const op = record(name, input, "sync")
        op.submission.attempts++
        while (refusals > 0) {
          refusals--
          op.submission.attempts++
        }
        return Effect.andThen(
          Effect.andThen(accept(op), Effect.sync(announce)),
          Effect.callback<unknown, api.OperationFailedError>((resume) => {
            if (op.result !== undefined) return resume(op.result)
            const wake = () => {
              op.waiters.delete(wake)
              resume(op.result!)
            }
            op.waiters.add(wake)
            return Effect.sync(() => op.waiters.delete(wake))
          })
        ).pipe(Effect.onInterrupt(() => abandon(op)))
      })

    const find = (id: number): Effect.Effect<Op, api.UnknownOperationError> => {
      const op = ops[id - 1]
      if (op === undefined) return Effect.fail(new api.UnknownOperationError({ id, state: "unknown" }))
      if (op.submission.state !== "pending") {
        return Effect.fail(new api.UnknownOperationError({ id, state: op.submission.state }))
      }
      return Effect.succeed(op)
    }

    const engine: api.TestEngine = {
      key,
      submit: <A>(name: string, input?: unknown) =>
        Effect.flatMap(
          AsyncJob.current,
          (job) => Option.isSome(job) ? submitInJob(job.value, name, input) : submitInPlace(name, input)
        ) as Effect.Effect<
          A,
          api.OperationFailedError
        >,
      complete: (id, value) => Effect.flatMap(find(id), (op) => settle(op, Exit.succeed(value))),
      fail: (id, error) =>
        Effect.flatMap(
          find(id),
          (op) =>
            settle(
              op,
              Exit.fail(new api.OperationFailedError({ id, name: op.submission.name, error }))
            )
        ),
      completeAll: (value) =>
        Effect.suspend(() => {
          const pending = ops.filter((op) => op.submission.state === "pending")
          return Effect.as(
            Effect.forEach(
              pending,
              (op) => settle(op, Exit.succeed((value ?? respond)(snapshot(op)))),
              { discard: true }
            ),
            pending.length
          )
        }),
      refuseNext: (count) =>
        Effect.sync(() => {
          refusals += count
        }),
      submissions: Effect.sync(() => ops.map(snapshot)),
      pending: Effect.sync(() => ops.filter((op) => op.submission.state === "pending").map(snapshot)),
      awaitSubmissions: (count) =>
        Effect.callback<ReadonlyArray<api.Submission>>((resume) => {
          if (ops.length >= count) return resume(Effect.sync(() => ops.map(snapshot)))
          const watcher: Watcher = {
            count,
            wake: () => {
              watchers.delete(watcher)
              // woken on the submitter's stack (effect 4 resumes a waiting fiber there): the test goes on only
              // after the submitting job has gone as far as it can, to its pause
              resume(Effect.andThen(Effect.yieldNow, Effect.sync(() => ops.map(snapshot))))
            }
          }
          watchers.add(watcher)
          return Effect.sync(() => watchers.delete(watcher))
        }),
      openFds: Effect.sync(() => fds.size)
    }
    return engine
  })
