import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import * as JobPool from "../src/JobPool.js"

describe("smoke", () => {
  it.scoped("start pause resume finish", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 2 })
      let ctr = 0
      const body = Effect.gen(function*() {
        ctr++
        yield* AsyncJob.pause
        ctr++
        return 2
      })
      const s1 = yield* pool.start(body)
      strictEqual(s1._tag, "Paused")
      strictEqual(ctr, 1)
      deepStrictEqual(yield* pool.stats, { maxSize: 2, created: 1, idle: 0, running: 0, paused: 1 })
      if (s1._tag !== "Paused") return
      const s2 = yield* pool.resume(s1.job)
      deepStrictEqual(s2, { _tag: "Finished", value: 2 })
      strictEqual(ctr, 2)
      deepStrictEqual(yield* pool.stats, { maxSize: 2, created: 1, idle: 1, running: 0, paused: 0 })
    }))
})
