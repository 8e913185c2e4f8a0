/**
 * Issue 25: a runner on Postgres rides out the database going away. Each test starts its own server
 * (`@async-job/test-postgres`), runs a cluster runner in this process over it, and makes the fault itself: it stops
 * and starts the server again, or ends the runner's sessions with `pg_terminate_backend`. Every wait is bounded; the
 * bounds are the times the package promises (README, "Database faults"), with room for a loaded machine.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as Postgres from "@async-job/test-postgres"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { fileURLToPath } from "node:url"
import * as Jobs from "./fixtures/jobs.js"
import * as Faults from "./fixtures/pgFaults.js"
import { spawnChild, waitExit } from "./fixtures/process.js"

const crashScript = fileURLToPath(new URL("./fixtures/pgStartCrash.ts", import.meta.url))

type Services = DurableJobPool.DurableJobPool | WorkflowEngine

/** Runs `body` against a runner over a fresh server. */
const withRunner = <A, E>(
  body: (server: Postgres.Server, probe: Faults.Probe) => Effect.Effect<A, E, Services | Scope.Scope>,
  options?: { readonly maxSize?: number }
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* Postgres.make
    const probe = yield* Faults.makeProbe
    // on a free port (another one if it was taken meanwhile)
    const context = yield* Layer.build(
      Faults.runner(server.url, probe, { maxSize: options?.maxSize, extra: Jobs.layer(() => {}) })
    ).pipe(Effect.retry({ times: 2 }))
    return yield* Effect.provideContext(body(server, probe), context)
  }))

/** Fails the test with `message` unless `effect` completes within `duration`. */
const within = <A, E, R>(duration: `${number} seconds`, message: string) => (effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, { duration, orElse: () => Effect.die(new Error(`not within ${duration}: ${message}`)) })

const expectPaused = (step: DurableJob.Step<unknown> | DurableJob.JobStatus<unknown, unknown>): DurableJob.Paused => {
  if (step._tag !== "Paused") throw new Error(`expected Paused, got ${JSON.stringify(step)}`)
  return step
}

/** Polls until the job is paused on other tokens than `from` (a read, not a wait). */
const pausedAgain = (jobId: string, from: DurableJob.Paused) =>
  DurableJob.poll(Jobs.Charge, jobId).pipe(
    Effect.filterOrFail((status) => status._tag === "Paused" && status.tokens[0] !== from.tokens[0]),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.map(expectPaused)
  )

/** Terminates, every `every`, the server's sessions that `where` selects from `pg_stat_activity`. */
const terminateEvery = (server: Postgres.Server, where: string, every: string) =>
  server.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE ${where}`).pipe(
    Effect.repeat(Schedule.spaced(every as `${number} millis`)),
    Effect.forkScoped
  )

const LISTENING = "query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()"

describe("Postgres faults", () => {
  it.live(
    "item 1: a wait whose LISTEN session is terminated ends with the job's step",
    () =>
      withRunner((server) =>
        Effect.gen(function*() {
          const first = expectPaused(yield* DurableJob.start(Jobs.Charge, { id: "l1", amount: 1 }))
          const waiting = yield* Effect.forkChild(DurableJob.resume(Jobs.Charge, first))
          // every LISTEN session is cut as soon as it shows, while the job moves on to its next pause
          const cutting = yield* terminateEvery(server, LISTENING, "50 millis")
          yield* DurableJob.signal(first.tokens[0]!, true)
          const next = yield* pausedAgain(first.jobId, first).pipe(within("60 seconds", "the job moves on"))
          yield* Fiber.interrupt(cutting)
          // the wait ends with that step, though its notification was lost
          deepStrictEqual(yield* Fiber.join(waiting).pipe(within("15 seconds", "the wait ends")), next)
          // and LISTEN comes back: a wait after it is woken
          const waitingAgain = yield* Effect.forkChild(DurableJob.resume(Jobs.Charge, next))
          yield* DurableJob.signal(next.tokens[0]!, "r-1")
          const finished = yield* Fiber.join(waitingAgain).pipe(within("15 seconds", "the next wait ends"))
          strictEqual(finished._tag, "Finished")
          const listening = yield* server.psql(`SELECT count(*) FROM pg_stat_activity WHERE ${LISTENING}`)
          deepStrictEqual(listening, [["1"]])
        })
      ),
    { timeout: 240_000 }
  )

  it.live(
    "item 1: a wait across a 3 s restart of the server ends with the job's step",
    () =>
      withRunner((server) =>
        Effect.gen(function*() {
          const first = expectPaused(yield* DurableJob.start(Jobs.Charge, { id: "r1", amount: 1 }))
          const waiting = yield* Effect.forkChild(DurableJob.resume(Jobs.Charge, first))
          yield* server.stop("fast")
          yield* Effect.sleep("3 seconds")
          yield* server.start
          // the signal is accepted once the runner is back on the database
          yield* DurableJob.signal(first.tokens[0]!, true).pipe(
            Effect.retry(Schedule.spaced("500 millis")),
            within("60 seconds", "the signal is accepted")
          )
          const next = expectPaused(yield* Fiber.join(waiting).pipe(within("60 seconds", "the wait ends")))
          assertTrue(next.tokens[0] !== first.tokens[0])
          const listening = yield* server.psql(`SELECT count(*) FROM pg_stat_activity WHERE ${LISTENING}`)
          deepStrictEqual(listening, [["1"]])
        })
      ),
    { timeout: 240_000 }
  )

  it.live(
    "items 2 and 3: sessions terminated again and again during cycles: every job finishes once, in its slot",
    () =>
      withRunner((server) =>
        Effect.gen(function*() {
          const ids = Array.from({ length: 6 }, (_, i) => `k${i}`)
          const pool = yield* DurableJobPool.DurableJobPool
          const cycle = (id: string) =>
            Effect.gen(function*() {
              // an operation that meets a cut session fails with a StoreError and is tried again, as a caller would
              const retrying = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
                Effect.retry(effect, {
                  while: (error) => error._tag === "StoreError",
                  schedule: Schedule.spaced("200 millis")
                })
              const first = expectPaused(yield* retrying(DurableJob.start(Jobs.Charge, { id, amount: 2 })))
              yield* retrying(DurableJob.signal(first.tokens[0]!, true))
              const second = expectPaused(yield* retrying(DurableJob.resume(Jobs.Charge, first)))
              yield* retrying(DurableJob.signal(second.tokens[0]!, `r-${id}`))
              return yield* retrying(DurableJob.resume(Jobs.Charge, second))
            })
          const cycles = yield* Effect.forkChild(Effect.forEach(ids, cycle, { concurrency: "unbounded" }))
          // the runner's sessions (not psql's own) are cut every 300 ms for 5 s while the jobs run their cycles
          yield* server.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name <> 'psql' AND backend_type = 'client backend'"
          ).pipe(Effect.repeat(Schedule.spaced("300 millis")), Effect.timeoutOption("5 seconds"))
          const results = yield* Fiber.join(cycles).pipe(
            within("90 seconds", "every cycle ends"),
            // what the ledger says, if they do not
            Effect.tapCause(() => Effect.flatMap(pool.list(), (page) => Effect.logError("the ledger", page.jobs)))
          )
          deepStrictEqual(
            results.map((step) => step._tag === "Finished" ? step.value : step),
            ids.map((id) => ({ charged: 2, receipt: `r-${id}` }))
          )
          deepStrictEqual(yield* pool.stats, { maxSize: 0, created: 6, idle: 6, running: 0, paused: 0 })
        })
      ),
    { timeout: 300_000 }
  )

  /** A job in its first activity while the server is stopped for `seconds`: answers what its `start` answered. */
  const outageDuringActivity = (server: Postgres.Server, probe: Faults.Probe, id: string, seconds: number) =>
    Effect.gen(function*() {
      const starting = yield* Effect.forkChild(DurableJob.start(Faults.Outage, { id }))
      yield* Deferred.await(probe.working).pipe(within("60 seconds", "the activity begins"))
      yield* server.stop("fast")
      yield* Effect.sleep(`${seconds} seconds`)
      yield* server.start
      // the activity ends once the server is back
      yield* Deferred.succeed(probe.release, void 0)
      return starting
    })

  /** Signals the job's pause and waits for its end; checks that it ran once in its slot. */
  const finishes = (probe: Faults.Probe, id: string, paused: DurableJob.Paused) =>
    Effect.gen(function*() {
      const pool = yield* DurableJobPool.DurableJobPool
      deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 0, running: 0, paused: 1 })
      // the slot is the job's: no other job starts
      strictEqual((yield* Effect.flip(DurableJob.start(Faults.Outage, { id: `${id}-other` })))._tag, "NoJobsError")
      yield* DurableJob.signal(paused.tokens[0]!, "go")
      const finished = yield* DurableJob.resume(Faults.Outage, paused).pipe(within("30 seconds", "the job ends"))
      deepStrictEqual(finished, { _tag: "Finished", jobId: paused.jobId, value: "go" })
      deepStrictEqual(yield* DurableJob.poll(Faults.Outage, paused.jobId), finished)
      deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 })
      // the activity cut by the outage ran again (at least once), the one after the pause once
      assertTrue(probe.events.filter((event) => event === `work ${id} 1`).length >= 1)
      deepStrictEqual(probe.events.filter((event) => event.startsWith("after")), [`after ${id}`])
    })

  it.live(
    "item 3: a 4 s outage during an activity: the job goes on within 60 s of the server's return, in its slot",
    () =>
      withRunner((server, probe) =>
        Effect.gen(function*() {
          const starting = yield* outageDuringActivity(server, probe, "s1", 4)
          const paused = expectPaused(
            yield* Fiber.join(starting).pipe(within("60 seconds", "the job goes on to its pause"))
          )
          yield* finishes(probe, "s1", paused)
        }), { maxSize: 1 }),
    { timeout: 300_000 }
  )

  it.live(
    "item 2: a 13 s outage during an activity never cancels the job: it goes on, once, in its slot",
    () =>
      withRunner((server, probe) =>
        Effect.gen(function*() {
          const starting = yield* outageDuringActivity(server, probe, "o1", 13)
          const paused = expectPaused(
            yield* Fiber.join(starting).pipe(within("60 seconds", "the job goes on to its pause"))
          )
          yield* finishes(probe, "o1", paused)
        }), { maxSize: 1 }),
    { timeout: 300_000 }
  )

  it.live(
    "item 4: a start cut short on a dead runner between admission and send is completed by a live runner",
    () =>
      withRunner((server) =>
        Effect.gen(function*() {
          const pool = yield* DurableJobPool.DurableJobPool
          const crashed = yield* spawnChild(crashScript, [server.url, "stranded"])
          deepStrictEqual(yield* waitExit(crashed), { code: null, signal: "SIGKILL" })
          const jobId = yield* DurableJob.jobId(Jobs.Charge, { id: "stranded", amount: 1 })
          deepStrictEqual((yield* pool.list()).jobs.map((job) => [job.jobId, job.state]), [[jobId, "starting"]])
          // this runner, which was up all along, sweeps it: the job runs to its pause
          const paused = yield* DurableJob.poll(Jobs.Charge, jobId).pipe(
            Effect.filterOrFail((status) => status._tag === "Paused"),
            Effect.retry(Schedule.spaced("250 millis")),
            within("30 seconds", "the stranded start is completed")
          )
          strictEqual(expectPaused(paused).tokens.length, 1)
          deepStrictEqual(yield* pool.stats, { maxSize: 0, created: 1, idle: 0, running: 0, paused: 1 })
          strictEqual((yield* DurableJob.cancel(Jobs.Charge, jobId))._tag, "Cancelled")
          deepStrictEqual(yield* pool.stats, { maxSize: 0, created: 1, idle: 1, running: 0, paused: 0 })
        })
      ),
    { timeout: 300_000 }
  )
})
