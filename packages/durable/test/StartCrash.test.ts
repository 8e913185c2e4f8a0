/**
 * Issue 15, item 1: a crash anywhere inside `start` leaves no phantom job. A process starts one job on a SQLite file
 * and kills itself (SIGKILL) at one point of that start: after the transaction that takes the slot and records the
 * job but before its workflow is sent, after it is sent but before that is recorded, as its body begins, and inside
 * its first activity. The next process on the file reports every outstanding job once settled: each must be a live
 * (paused) job, never one that stays Running, and `cancel` must complete for each, leaving the pool empty.
 *
 * Issue 15, item 2: activities are at-least-once. The activity killed mid-run ran twice, once in each process;
 * an activity that completed before the kill ran once. Both runs of the activity killed mid-run see the same
 * idempotency key (`Activity.idempotencyKey(name, { includeAttempt: true })`), the key of its side effect.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { firstLine, spawnChild, waitExit } from "./fixtures/process.js"
import { tempDir } from "./fixtures/tmp.js"

const child = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url))

interface CheckReport {
  readonly statuses: ReadonlyArray<string>
  readonly cancelled: ReadonlyArray<string>
  readonly after: unknown
}

describe("kill inside start (SQLite)", () => {
  // how often the job's first activity ran in all: an activity killed mid-run runs again (at least once)
  const reserves = { "before-send": 1, "after-send": 1, run: 1, reserve: 2 }
  for (const [point, reserved] of Object.entries(reserves)) {
    it.live(
      `killed at ${point}: after a restart the job is live, and cancel completes`,
      () =>
        Effect.gen(function*() {
          const dir = yield* tempDir("start-crash")
          const args = [path.join(dir, "jobs.db"), path.join(dir, "events.log")]
          const crashed = yield* spawnChild(child, [...args, "crash", point])
          deepStrictEqual(yield* waitExit(crashed), { code: null, signal: "SIGKILL" })
          const check = yield* spawnChild(child, [...args, "check"])
          const report = JSON.parse(yield* firstLine(check)) as CheckReport
          deepStrictEqual(report, {
            statuses: ["Paused"],
            cancelled: ["Cancelled"],
            after: { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 }
          })
          const events = fs.readFileSync(args[1]!, "utf8").trim().split("\n").map((line) => line.split(" "))
          const ran = events.filter(([, event]) => event === "reserve").map(([pid]) => Number(pid))
          strictEqual(ran.length, reserved)
          if (point === "reserve") {
            deepStrictEqual(ran, [crashed.pid, check.pid])
            // issue 25, item 7: the activity's idempotency key (Activity.idempotencyKey with its attempt), which
            // the README gives as the key of its side effect, is the same in the run after the crash
            const keys = fs.readFileSync(`${args[1]}.keys`, "utf8").trim().split("\n").map((line) => line.split(" "))
            deepStrictEqual(keys.map(([pid]) => Number(pid)), [crashed.pid, check.pid])
            strictEqual(new Set(keys.map(([, , key]) => key)).size, 1)
          }
        }),
      { timeout: 120_000 }
    )
  }
})
