import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as Progress from "../src/loadgen/Progress.js"

const terminal = (isTTY: boolean) => {
  const writes: Array<string> = []
  return { writes, stream: { isTTY, columns: 80, write: (text: string) => writes.push(text) } }
}

// a load that reports progress every 100 ms of (test) time
const fakeLoad = (onProgress: (done: number) => void) =>
  Effect.forEach([1, 2, 3, 4], (done) => Effect.as(Effect.sleep(Duration.millis(100)), onProgress(done)), {
    discard: true
  }).pipe(Effect.as("result"))

describe("Progress.aroundOn", () => {
  it.effect("draws on a TTY while the run lasts, erases the bar, and stops drawing", () =>
    Effect.gen(function*() {
      const { stream, writes } = terminal(true)
      const fiber = yield* Effect.forkChild(Progress.aroundOn(stream)("load", 4, fakeLoad))
      yield* TestClock.adjust(Duration.seconds(1))
      strictEqual(yield* Fiber.join(fiber), "result")
      assertTrue(writes.length >= 2)
      assertTrue(writes.slice(0, -1).every((text) => text.startsWith("\r\x1b[2Kload [")))
      strictEqual(writes.at(-1), "\r\x1b[2K")
      const drawn = writes.length
      yield* TestClock.adjust(Duration.seconds(10))
      strictEqual(writes.length, drawn)
    }))

  it.effect("draws nothing when the stream is not a TTY", () =>
    Effect.gen(function*() {
      const { stream, writes } = terminal(false)
      const fiber = yield* Effect.forkChild(Progress.aroundOn(stream)("load", 4, fakeLoad))
      yield* TestClock.adjust(Duration.seconds(1))
      strictEqual(yield* Fiber.join(fiber), "result")
      deepStrictEqual(writes, [])
    }))
})
