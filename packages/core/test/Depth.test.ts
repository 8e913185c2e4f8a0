/**
 * Effect 4 runs a new fiber, and a fiber woken by a `Deferred`, on the stack
 * of whoever forks or wakes it. A chain of jobs in which each resumes the next
 * from inside its body would then nest one JavaScript stack frame group per
 * link: about 800 links overflow the stack (one fiber dies, every later one
 * hangs), and on Node 22 a chain of 20,000 aborts the process. The engine
 * bounds how deep its hand-offs nest and schedules beyond the bound.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import * as JobPool from "../src/JobPool.js"
import { allIdle, finishedValue, pausedJob } from "./utils.js"

const links = 100_000

describe("stack depth", () => {
  it.effect(`a chain of ${links} jobs, each resuming the next from inside its body, runs to its end`, () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.JobPool
      const jobs: Array<AsyncJob.Job<number>> = []
      let finished = 0
      const link = (i: number) =>
        Effect.gen(function*() {
          yield* AsyncJob.pause
          if (i + 1 < links) {
            const next = yield* AsyncJob.resume(jobs[i + 1]!)
            strictEqual(yield* finishedValue(next), i + 1)
          }
          finished++
          return i
        })
      for (let i = 0; i < links; i++) jobs.push(yield* pausedJob(yield* AsyncJob.start(link(i))))
      strictEqual((yield* pool.stats).paused, links)
      strictEqual(yield* finishedValue(yield* AsyncJob.resume(jobs[0]!)), 0)
      strictEqual(finished, links)
      deepStrictEqual(yield* pool.stats, allIdle(0, links))
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("a job nested in jobs deeper than the bound starts and finishes", () =>
    Effect.gen(function*() {
      const depth = 5_000
      const nest = (n: number): Effect.Effect<number, unknown, JobPool.JobPool> =>
        n === 0
          ? Effect.as(AsyncJob.pause, 0)
          : Effect.flatMap(AsyncJob.start(nest(n - 1)), (step) =>
            step._tag === "Finished"
              ? Effect.succeed(step.value + 1)
              : Effect.flatMap(AsyncJob.resume(step.job), (next) => finishedValue(next)).pipe(
                Effect.map((value) => value + 1)
              ))
      const step = yield* AsyncJob.start(nest(depth))
      const value = step._tag === "Finished" ? step.value : yield* finishedValue(yield* AsyncJob.resume(step.job))
      strictEqual(value, depth)
    }).pipe(Effect.provide(JobPool.layer())))
})
