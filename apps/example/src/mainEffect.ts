/**
 * The man page's example program again, written with the Effect
 * API: `@async-job/core` (jobs, the wait ctx) and
 * `@async-job/platform-node` (a real OS pipe and a non-blocking
 * readability wait). It prints the same eight lines as `main.ts`.
 *
 * Line for line: `ASYNC_WAIT_CTX_new` / `ASYNC_WAIT_CTX_free` are a
 * wait ctx made in its own Scope and the closing of that Scope;
 * `ASYNC_start_job` is `AsyncJob.start` then `AsyncJob.resume`;
 * `ASYNC_pause_job` is `AsyncJob.pause`; `select()` is
 * `NodeWaitFd.awaitReadable`. No `JobPool` options: the pool is
 * unbounded, as OpenSSL's implicit `ASYNC_init_thread(0, 0)`.
 *
 * @since 0.1.0
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import { NodeWaitFd } from "@async-job/platform-node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { cString, printf, reportOpenFds } from "./stdio.js"

const fdsAtStart = reportOpenFds.start()

const log = (text: string) => Effect.sync(() => printf(text))

const unique = {}

/** The wait fd's cleanup: closes both ends of the pipe. */
const cleanup: WaitCtx.Cleanup = ({ fd }) =>
  Effect.sync(() => (fd as NodeWaitFd.PipeWaitFd).closeUnsafe())

const jobfunc = (msg: Uint8Array) =>
  Effect.gen(function*() {
    const currjob = yield* AsyncJob.current
    if (Option.isSome(currjob)) {
      yield* log("Executing within a job\n")
    } else {
      yield* log("Not executing within a job - should not happen\n")
      return 0
    }

    yield* log(`Passed in message is: ${cString(msg)}\n`)

    const pipe = yield* Effect.option(
      Effect.try(() => NodeWaitFd.makePipeUnsafe())
    )
    if (Option.isNone(pipe)) {
      yield* log("Failed to create pipe\n")
      return 0
    }
    const ctx = yield* AsyncJob.waitCtx(currjob.value)
    if (Option.isSome(ctx)) {
      yield* WaitCtx.setWaitFd(ctx.value, unique, pipe.value, {
        cleanup
      })
    }

    // the "external event", at once: the job is ready to be woken
    // up as soon as it pauses
    yield* Effect.orDie(NodeWaitFd.signal(pipe.value))

    yield* AsyncJob.pause

    // clear the wake signal
    if (
      Exit.isFailure(
        yield* Effect.exit(NodeWaitFd.clear(pipe.value))
      )
    ) return 0
    yield* log("Resumed the job after a pause\n")

    return 1
  })

const main = Effect.gen(function*() {
  const msg = new Uint8Array(13)
  new TextEncoder().encodeInto("Hello world!", msg)

  yield* log("Starting...\n")

  const ctxScope = yield* Scope.make()
  const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)

  let job: AsyncJob.Job<number, never> | undefined = undefined
  for (;;) {
    const startOrResume: Effect.Effect<
      AsyncJob.JobResult<number, never>,
      unknown,
      JobPool.JobPool
    > = job === undefined
      ? AsyncJob.start(jobfunc(msg.slice()), { waitCtx: ctx })
      : AsyncJob.resume(job)
    const step = yield* Effect.result(startOrResume)
    if (Result.isFailure(step)) {
      yield* log("An error occurred\n")
      break
    }
    if (step.success._tag === "Paused") {
      job = step.success.job
      yield* log("Job was paused\n")
    } else {
      job = undefined
      yield* log(
        `Job finished with return value ${step.success.value}\n`
      )
      break
    }

    // wait for the job to be woken
    yield* log("Waiting for the job to be woken up\n")

    const fds = yield* WaitCtx.getAllFds(ctx)
    if (fds.length > 1) {
      yield* log("Unexpected number of fds\n")
      return yield* Effect.sync(() => process.abort())
    }
    yield* Effect.orDie(NodeWaitFd.awaitReadable(fds[0]!.fd))
  }

  // ASYNC_WAIT_CTX_free: runs the cleanup, which closes both ends
  // of the pipe
  yield* Scope.close(ctxScope, Exit.void)
  yield* log("Finishing\n")
  return 0
})

process.exitCode = await Effect.runPromise(
  main.pipe(Effect.provide(JobPool.layer()))
)
reportOpenFds.end(fdsAtStart)
