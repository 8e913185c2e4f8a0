/**
 * Two runners on one Postgres: two real processes, each a cluster runner over
 * the same private server (`DurableJobPool.layerCluster`). A job started
 * through one is read, signalled and cancelled through the other, and the
 * pool's bound counts the jobs of both.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as Postgres from "@async-job/test-postgres"
import { describe, layer } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Jobs from "./fixtures/jobs.js"
import { firstLine, spawnChild } from "./fixtures/process.js"
import { tempDir } from "./fixtures/tmp.js"

const runnerScript = fileURLToPath(new URL("./fixtures/pgRunner.ts", import.meta.url))
const MAX = 2
/** The shards of the runners (`shardsPerGroup` in fixtures/pgRunner.ts). */
const SHARDS = 30

type Exit =
  | { readonly _tag: "Success"; readonly value?: any }
  | { readonly _tag: "Failure"; readonly error: { readonly _tag: string; readonly [key: string]: unknown } }

/** Sends commands to a runner process (see fixtures/pgRunner.ts) and answers their exits. */
interface Runner {
  readonly pid: number
  /** What the runner printed on stderr so far. */
  readonly stderr: () => string
  readonly send: (command: Record<string, unknown>, timeout?: Duration.Input) => Effect.Effect<Exit>
}

/** A runner child on `url`, once it runs (again on another port if its port was taken); the scope kills it. */
const runner = (url: string, events: string) =>
  Effect.gen(function*() {
    const port = yield* Postgres.freePort
    const child = yield* spawnChild(runnerScript, [url, String(port), String(MAX), events], undefined, "pipe")
    const ready = yield* firstLine(child).pipe(Effect.timeout("60 seconds"))
    if (ready !== JSON.stringify({ ready: true })) return yield* Effect.die(`runner said ${ready}`)
    return client(child)
  }).pipe(Effect.retry({ times: 2 }))

const client = (child: ChildProcess & { readonly stderrText: () => string }): Runner => {
  const waiting = new Map<number, (exit: Exit) => void>()
  let buffer = ""
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const answer = JSON.parse(buffer.slice(0, end)) as { readonly id: number; readonly exit: Exit }
      buffer = buffer.slice(end + 1)
      waiting.get(answer.id)?.(answer.exit)
      waiting.delete(answer.id)
    }
  })
  let next = 0
  return {
    pid: child.pid!,
    stderr: child.stderrText,
    send: (command, timeout = "30 seconds") =>
      Effect.callback<Exit>((resume) => {
        const id = ++next
        waiting.set(id, (exit) => resume(Effect.succeed(exit)))
        child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`)
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.die(new Error(`no answer to ${JSON.stringify(command)}; stderr: ${child.stderrText()}`))
        })
      )
  }
}

class Cluster extends Context.Service<
  Cluster,
  { readonly a: Runner; readonly b: Runner; readonly events: string }
>()("test/Cluster") {}

const ClusterLive = Layer.effect(
  Cluster,
  Effect.gen(function*() {
    const url = yield* Postgres.server
    const events = path.join(yield* tempDir("pg-events"), "events.log")
    // one after the other: the first creates the cluster's tables
    const a = yield* runner(url, events)
    const b = yield* runner(url, events)
    // give the shards time to move to the second runner (each runner holds some, all are held, twice in a row);
    // the tests do not depend on it, so after 30 seconds they go on anyway
    let previous = ""
    yield* a.send({ op: "locks" }).pipe(
      Effect.map((exit) => JSON.stringify(value(exit))),
      Effect.repeat({
        until: (locks) => {
          const counts = JSON.parse(locks) as Array<number>
          const settled = locks === previous && counts.length >= 2 && counts.reduce((n, m) => n + m, 0) === SHARDS
          previous = locks
          return settled
        },
        schedule: Schedule.spaced("250 millis")
      }),
      Effect.timeoutOption("30 seconds")
    )
    return { a, b, events }
  })
)

const value = (exit: Exit): any => {
  if (exit._tag !== "Success") throw new Error(`expected success, got ${JSON.stringify(exit)}`)
  return exit.value
}
/** The bound and the jobs outstanding (running or paused) of a `PoolStats` answer. */
const outstanding = (exit: Exit): [number, number] => {
  const stats = value(exit) as { readonly maxSize: number; readonly running: number; readonly paused: number }
  return [stats.maxSize, stats.running + stats.paused]
}
const errorTag = (exit: Exit): string => exit._tag === "Failure" ? exit.error._tag : "Success"
const paused = (exit: Exit): DurableJob.Paused => {
  const step = value(exit) as DurableJob.Step<unknown>
  if (step._tag !== "Paused") throw new Error(`expected Paused, got ${JSON.stringify(step)}`)
  return step
}
/**
 * Signals through `runner` until the signal is accepted: while the owner of the job's shard is dead, `signal`
 * answers StoreError (unavailable), and sending it again is safe (the first signal of a token wins).
 */
const signalUntilAccepted = (runner: Runner, token: string, value: unknown) =>
  runner.send({ op: "signal", token, value }).pipe(
    Effect.filterOrFail((exit) => exit._tag === "Success" || errorTag(exit) !== "StoreError"),
    Effect.retry(Schedule.spaced("1 second").pipe(Schedule.upTo({ duration: "180 seconds" }))),
    Effect.orDie,
    Effect.map((exit) => strictEqual(exit._tag, "Success", JSON.stringify(exit)))
  )
const charge = (id: string) => ({ op: "start", job: "Charge", payload: { id, amount: 3 } })

describe("two runners on Postgres", () => {
  layer(ClusterLive, { timeout: "600 seconds", excludeTestServices: true })((it) => {
    it.effect("a job started on one runner is read, signalled and cancelled on the other", () =>
      Effect.gen(function*() {
        const { a, b } = yield* Cluster
        assertTrue(a.pid !== b.pid)
        const started = paused(yield* a.send(charge("x1")))
        strictEqual(started.tokens.length, 1)
        // B reads the job A started
        deepStrictEqual(value(yield* b.send({ op: "poll", jobId: started.jobId })), started)
        // B signals it, A resumes it to its next pause, and B sees that pause
        strictEqual((yield* b.send({ op: "signal", token: started.tokens[0], value: true }))._tag, "Success")
        const next = paused(yield* a.send({ op: "resume", handle: started }))
        strictEqual(next.tokens.length, 1)
        assertTrue(next.tokens[0] !== started.tokens[0])
        deepStrictEqual(value(yield* b.send({ op: "poll", jobId: started.jobId })), next)
        // B cancels it: both see it cancelled, its slot returns, and its handle answers StaleJobError on A
        deepStrictEqual(value(yield* b.send({ op: "cancel", jobId: started.jobId })), {
          _tag: "Cancelled",
          jobId: started.jobId
        })
        deepStrictEqual(value(yield* a.send({ op: "poll", jobId: started.jobId })), {
          _tag: "Cancelled",
          jobId: started.jobId
        })
        strictEqual(errorTag(yield* a.send({ op: "resume", handle: next })), "StaleJobError")
        strictEqual(errorTag(yield* a.send({ op: "poll", jobId: "no such job" })), "JobNotFoundError")
        deepStrictEqual(outstanding(yield* a.send({ op: "stats" })), [MAX, 0])
        deepStrictEqual(outstanding(yield* b.send({ op: "stats" })), [MAX, 0])
      }))

    it.effect("the NoJobs bound holds across both runners", () =>
      Effect.gen(function*() {
        const { a, b } = yield* Cluster
        const first = paused(yield* a.send(charge("n1")))
        paused(yield* b.send(charge("n2")))
        // the pool is full: both runners refuse, whichever job they are asked for
        const refused = [
          yield* a.send(charge("n3")),
          yield* b.send(charge("n3")),
          yield* b.send({ op: "start", job: "Echo", payload: { id: "n4", text: "" } })
        ]
        deepStrictEqual(
          refused.map((exit) =>
            exit._tag === "Failure"
              ? [exit.error._tag, ...outstanding({ _tag: "Success", value: exit.error.stats })]
              : exit
          ),
          refused.map(() => ["NoJobsError", MAX, MAX])
        )
        // nothing was started by a refusal
        const n3 = yield* DurableJob.jobId(Jobs.Charge, { id: "n3", amount: 3 })
        strictEqual(errorTag(yield* a.send({ op: "poll", jobId: n3 })), "JobNotFoundError")
        deepStrictEqual(outstanding(yield* b.send({ op: "stats" })), [MAX, MAX])
        // restarting an outstanding job on the other runner attaches to it and takes no slot
        deepStrictEqual(paused(yield* b.send(charge("n1"))), first)
        // a job ended on one runner frees its slot for the other
        strictEqual(value(yield* b.send({ op: "cancel", jobId: first.jobId }))._tag, "Cancelled")
        deepStrictEqual(outstanding(yield* a.send({ op: "stats" })), [MAX, 1])
        const third = paused(yield* a.send(charge("n3")))
        strictEqual(errorTag(yield* b.send(charge("n5"))), "NoJobsError")
        // leave the pool empty
        for (const jobId of [third.jobId, (paused(yield* a.send(charge("n2")))).jobId]) {
          strictEqual(value(yield* a.send({ op: "cancel", jobId }))._tag, "Cancelled")
        }
        deepStrictEqual(outstanding(yield* b.send({ op: "stats" })), [MAX, 0])
      }))

    it.effect("runners racing for the last slots: exactly maxSize jobs start", () =>
      Effect.gen(function*() {
        const { a, b } = yield* Cluster
        const ids = ["r0", "r1", "r2", "r3", "r4", "r5"]
        const exits = yield* Effect.forEach(ids, (id, i) => (i % 2 === 0 ? a : b).send(charge(id)), {
          concurrency: "unbounded"
        })
        const started = exits.flatMap((exit) => exit._tag === "Success" ? [paused(exit)] : [])
        strictEqual(started.length, MAX)
        deepStrictEqual(exits.map(errorTag).filter((tag) => tag !== "Success"), ids.slice(MAX).map(() => "NoJobsError"))
        deepStrictEqual(outstanding(yield* a.send({ op: "stats" })), [MAX, MAX])
        for (const step of started) {
          strictEqual(value(yield* b.send({ op: "cancel", jobId: step.jobId }))._tag, "Cancelled")
        }
        deepStrictEqual(outstanding(yield* a.send({ op: "stats" })), [MAX, 0])
      }))

    it.effect("many starts racing from both runners against a bound of 1: no more than one job ever runs", () =>
      Effect.gen(function*() {
        const { a, b, events } = yield* Cluster
        // the bound lives in the database: set on one runner, enforced by both
        strictEqual((yield* b.send({ op: "setMax", maxSize: 1 }))._tag, "Success")
        deepStrictEqual(outstanding(yield* a.send({ op: "stats" })), [1, 0])
        const ids = Array.from({ length: 16 }, (_, i) => `bound-${i}`)
        const exits = yield* Effect.forEach(ids, (id, i) => (i % 2 === 0 ? a : b).send(charge(id)), {
          concurrency: "unbounded"
        })
        const started = exits.flatMap((exit) => exit._tag === "Success" ? [paused(exit)] : [])
        strictEqual(started.length, 1)
        deepStrictEqual(exits.map(errorTag).filter((tag) => tag !== "Success"), ids.slice(1).map(() => "NoJobsError"))
        // counted by the job bodies themselves, in both processes: one job ever ran
        const ran = new Set(
          fs.readFileSync(events, "utf8").split("\n").flatMap((line) => {
            const [, event, id] = line.split(" ")
            return event === "run" && id!.startsWith("bound-") ? [id] : []
          })
        )
        strictEqual(ran.size, 1)
        strictEqual(value(yield* a.send({ op: "cancel", jobId: started[0]!.jobId }))._tag, "Cancelled")
        strictEqual((yield* a.send({ op: "setMax", maxSize: MAX }))._tag, "Success")
        deepStrictEqual(outstanding(yield* b.send({ op: "stats" })), [MAX, 0])
      }))

    // after the shards moved between the runners: each released shards to the other on its shard-lock connection
    it.effect("neither runner prints a DeprecationWarning", () =>
      Effect.gen(function*() {
        const { a, b } = yield* Cluster
        const warnings = (runner: Runner) =>
          runner.stderr().split("\n").filter((line) => line.includes("DeprecationWarning"))
        deepStrictEqual([warnings(a), warnings(b)], [[], []])
      }))

    // last: it kills runner A
    it.effect(
      "failover: once a runner is killed, the other finishes every job, also those on its shards",
      () =>
        Effect.gen(function*() {
          const { a, b } = yield* Cluster
          strictEqual((yield* b.send({ op: "setMax", maxSize: 0 }))._tag, "Success")
          const ids = Array.from({ length: 8 }, (_, i) => `failover-${i}`)
          const started = yield* Effect.forEach(ids, (id) => Effect.map(b.send(charge(id)), paused))
          process.kill(a.pid, "SIGKILL")
          const killed = Date.now()
          // through B only; the jobs on A's shards continue once B has taken them over (their locks expired)
          const finished = yield* Effect.forEach(started, (step, i) =>
            Effect.gen(function*() {
              yield* signalUntilAccepted(b, step.tokens[0]!, true)
              const next = paused(yield* b.send({ op: "resume", handle: step }, "180 seconds"))
              yield* signalUntilAccepted(b, next.tokens[0]!, `f${i}`)
              return value(yield* b.send({ op: "resume", handle: next }, "180 seconds"))
            }), { concurrency: "unbounded" })
          const failover = Date.now() - killed
          deepStrictEqual(
            finished.map((step: { readonly value: { readonly receipt: string } }) => step.value.receipt),
            ids.map((_, i) => `f${i}`)
          )
          // stated in docs/guides/durable.md (not asserted: time is not a test's business)
          yield* Effect.sync(() => process.stdout.write(`failover after SIGKILL: ${failover} ms\n`))
        }),
      { timeout: 300_000 }
    )
  })
})
