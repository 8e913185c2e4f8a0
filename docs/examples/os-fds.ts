/**
 * A wait fd backed by a real OS pipe (Linux): another process wakes
 * the paused job by writing one byte to the pipe's write end. The
 * pipe is scoped: both ends are closed when the program's scope
 * closes.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as NodeWaitFd from "@async-job/platform-node/NodeWaitFd"
import { Console, Effect } from "effect"
import { spawn } from "node:child_process"

/**
 * A child process that writes one byte to its fd 3, which is the
 * pipe's write end.
 */
const wakeFromAnotherProcess = (writeFd: number) =>
  Effect.callback<number | null>((resume) => {
    const child = spawn(process.execPath, [
      "-e",
      "require('node:fs').writeSync(3, 'x')"
    ], {
      stdio: ["ignore", "inherit", "inherit", writeFd]
    })
    child.on("exit", (code) => resume(Effect.succeed(code)))
  })

const job = (pipe: NodeWaitFd.PipeWaitFd) =>
  Effect.gen(function*() {
    yield* AsyncJob.pause
    // read the byte: the wake-up is consumed
    const read = yield* NodeWaitFd.clear(pipe)
    yield* Console.log(`job: resumed, read a byte: ${read}`)
    return "done"
  })

const program = Effect.gen(function*() {
  const pipe = yield* NodeWaitFd.makePipe
  const ctx = yield* WaitCtx.make
  yield* WaitCtx.setWaitFd(ctx, "pipe", pipe)
  yield* Console.log(
    `the wait fd is an OS descriptor: ${
      (yield* WaitCtx.getAllFds(ctx))[0]!.fd >= 0
    }`
  )

  const step = yield* AsyncJob.start(job(pipe), { waitCtx: ctx })
  if (step._tag !== "Paused") return
  yield* Console.log(
    `readable before the child writes: ${pipe.isReadableUnsafe()}`
  )
  const code = yield* wakeFromAnotherProcess(pipe.writeFd)
  yield* Console.log(`child exited with ${code}`)
  // epoll under the hood: the event loop is not blocked
  yield* WaitCtx.awaitReady(ctx)
  yield* AsyncJob.resume(step.job)
  return pipe
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(JobPool.layer()))
).then((pipe) =>
  console.log(
    `after the scope: pipe closed: ${pipe?.isClosedUnsafe()}`
  )
)
