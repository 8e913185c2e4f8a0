/**
 * A driver loop for several jobs, as OpenSSL's `speed` runs one:
 * start them all, then pass over the paused ones, waiting for each
 * one's wait ctx and resuming it, until all have finished. Then the
 * same work with AsyncJob.run, which is this loop for one job, run
 * concurrently.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { Console, Effect } from "effect"

/**
 * Job `n` performs `n` operations; each completes at once (its fd
 * is signalled) and the job pauses for it.
 */
const job = (n: number, ctx: WaitCtx.WaitCtx) =>
  Effect.gen(function*() {
    const fd = yield* WaitFd.make
    yield* WaitCtx.setWaitFd(ctx, "engine", fd)
    for (let i = 0; i < n; i++) {
      yield* WaitFd.signal(fd) // the engine's completion
      yield* AsyncJob.pause
      yield* WaitFd.clear(fd)
    }
    return n * 10
  })

const driverLoop = Effect.gen(function*() {
  const ctxs = [
    yield* WaitCtx.make,
    yield* WaitCtx.make,
    yield* WaitCtx.make
  ]
  let outstanding: Array<
    { readonly n: number; readonly job: AsyncJob.Job<number> }
  > = []
  for (const [i, ctx] of ctxs.entries()) {
    const step = yield* AsyncJob.start(job(i + 1, ctx), {
      waitCtx: ctx
    })
    if (step._tag === "Paused") {
      outstanding.push({ n: i + 1, job: step.job })
    }
  }
  for (let pass = 1; outstanding.length > 0; pass++) {
    const next: typeof outstanding = []
    const finished: Array<string> = []
    for (const { job, n } of outstanding) {
      yield* WaitCtx.awaitReady(ctxs[n - 1]!)
      const step = yield* AsyncJob.resume(job)
      if (step._tag === "Paused") next.push({ n, job: step.job })
      else finished.push(`job ${n} → ${step.value}`)
    }
    yield* Console.log(
      `pass ${pass}: resumed ${outstanding.length}, finished [${
        finished.join(", ")
      }]`
    )
    outstanding = next
  }
})

const withRun = Effect.forEach(
  [1, 2, 3],
  (n) =>
    Effect.flatMap(
      WaitCtx.make,
      (ctx) => AsyncJob.run(job(n, ctx), { waitCtx: ctx })
    ),
  { concurrency: "unbounded" }
)

const program = Effect.gen(function*() {
  yield* driverLoop
  yield* Console.log(`with AsyncJob.run: ${yield* withRun}`)
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(JobPool.layer({ maxSize: 3 }))
  )
)
