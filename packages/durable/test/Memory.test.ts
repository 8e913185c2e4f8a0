import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual } from "@effect/vitest/utils"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/testing/TestClock"
import * as Jobs from "./fixtures/jobs.js"
import { testDurableJobs } from "./fixtures/suite.js"

testDurableJobs("WorkflowEngine.layerMemory", DurableJobPool.layerMemory)

describe("DurableJobPool.layerMemory", () => {
  it.live("a job paused when the engine shuts down has not ended: nothing is recorded or reported of it", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.layer([
        Logger.make(({ logLevel, message }) => {
          if (logLevel === "Warn" || logLevel === "Error") warnings.push(String(message))
        })
      ])
      const step = yield* DurableJob.start(Jobs.Charge, { id: "at-shutdown", amount: 1 }).pipe(
        Effect.provide(Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerMemory())),
        Effect.provide(capture)
      )
      deepStrictEqual(step._tag, "Paused")
      // the engine, shut down with the job paused, closed its run's scope with a void exit: no end of the job's
      deepStrictEqual(warnings, [])
    }))

  it.live("an invalid maxSize is a defect when the layer builds", () =>
    Effect.gen(function*() {
      for (const maxSize of [-1, 1.5, 2 ** 31]) {
        const exit = yield* Effect.exit(
          DurableJob.start(Jobs.Echo, { id: "x", text: "" }).pipe(
            Effect.provide(Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerMemory({ maxSize })))
          )
        )
        assertTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), String(maxSize))
        if (Exit.isFailure(exit)) assertTrue(String(Cause.squash(exit.cause)).includes("maxSize"))
      }
    }))

  it.effect("retention: ended jobs are forgotten once they ended longer ago than it, outstanding ones never", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerMemory({ retention: "1 hour" }))
      )
      const listed = Effect.map(
        Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.list()),
        (page) => page.jobs.map((job) => job.state)
      )
      const states = yield* Effect.gen(function*() {
        yield* DurableJob.start(Jobs.Echo, { id: "old", text: "" })
        yield* DurableJob.start(Jobs.Charge, { id: "waiting", amount: 1 })
        const before = yield* listed
        yield* TestClock.adjust("59 minutes")
        const kept = yield* listed
        yield* TestClock.adjust("2 hours")
        return [before, kept, yield* listed]
      }).pipe(Effect.provide(context))
      deepStrictEqual(states, [["ended", "paused"], ["ended", "paused"], ["paused"]])
    }))

  it.effect("maxRetained: the ended jobs beyond it, those that ended first, are forgotten; outstanding ones never", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerMemory({ maxRetained: 2 }))
      )
      const listed = Effect.map(
        Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.list()),
        (page) => page.jobs.map((job) => job.jobId)
      )
      const ids = yield* Effect.gen(function*() {
        const ids: Array<string> = []
        for (const id of ["e1", "e2", "e3"]) {
          const step = yield* DurableJob.start(Jobs.Echo, { id, text: "" })
          ids.push(step.jobId)
          yield* TestClock.adjust("1 second")
        }
        const paused = yield* DurableJob.start(Jobs.Charge, { id: "waiting", amount: 1 })
        ids.push(paused.jobId)
        yield* TestClock.adjust("1 second")
        return [ids, yield* listed]
      }).pipe(Effect.provide(context))
      deepStrictEqual(ids[1], ids[0]!.slice(1))
    }))
})
