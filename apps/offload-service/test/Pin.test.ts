/**
 * `loadgen --pin`: the plan (which CPUs the service and the client get), the
 * service started on its CPUs, and the whole mode on loopback against the
 * stand-in service, pinned where this machine allows it and unpinned, saying
 * why, where it does not.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Pin from "../src/loadgen/Pin.js"
import * as Service from "../src/loadgen/Service.js"

const standIn = fileURLToPath(new URL("./fixtures/standInService.ts", import.meta.url))
const loadgen = fileURLToPath(new URL("../src/loadgen/main.ts", import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/** Runs `loadgen` with `args` to its end (at most 120 s); answers its exit code and output. */
const runLoadgen = (args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = ChildProcess.execFile(
      process.execPath,
      ["--import", tsx, loadgen, ...args],
      { timeout: 120_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : child.exitCode ?? -1, stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The CPUs a process may run on, from `/proc`. */
const cpusOf = (pid: number) =>
  Pin.parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]!)

describe("Pin", () => {
  it("parses taskset's CPU lists", () => {
    deepStrictEqual(Pin.parseCpuList("0-2,5"), [0, 1, 2, 5])
    deepStrictEqual(Pin.parseCpuList("3,1,1"), [1, 3])
    strictEqual(Pin.parseCpuList("1-0"), undefined)
    strictEqual(Pin.parseCpuList("x"), undefined)
  })

  it("plans the client on the last CPU and the service on the others, or says why not", () => {
    deepStrictEqual(Pin.planFor([0, 1], true), { _tag: "Pinned", service: [0], client: [1] })
    deepStrictEqual(Pin.planFor([0, 1, 2, 3], true), { _tag: "Pinned", service: [0, 1, 2], client: [3] })
    deepStrictEqual(Pin.planFor([2], true), {
      _tag: "Unpinned",
      reason: "only 1 CPU available (2), two are needed"
    })
    deepStrictEqual(Pin.planFor([0, 1], false), { _tag: "Unpinned", reason: "taskset is not available (util-linux)" })
    strictEqual(
      Pin.describePlan(Pin.planFor([0, 1], true)),
      "pinned with taskset: service on CPU 0, client (a separate process) on CPU 1"
    )
  })

  it.live("starts the service on its CPUs, and the client in a process on its own, which reports", () =>
    Effect.gen(function*() {
      const plan = yield* Pin.plan
      if (plan._tag === "Unpinned") {
        // this machine cannot pin: the service starts unpinned when given no CPUs
        const service = yield* Service.start({ entry: standIn })
        return assertTrue(service.pid > 0)
      }
      const service = yield* Service.start({ entry: standIn, cpus: plan.service })
      deepStrictEqual(cpusOf(service.pid), plan.service)
      const progress: Array<number> = []
      const report = yield* Pin.runClient({
        url: service.url,
        op: "sha256",
        requests: 4,
        concurrency: 2,
        onProgress: (done) => progress.push(done)
      }, plan.client)
      deepStrictEqual([report.ok, report.failed, report.errors], [4, 0, []])
      deepStrictEqual(progress, [1, 2, 3, 4])
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live(
    "loadgen --compare --pin runs and reports, saying where the service and the client ran",
    () =>
      Effect.gen(function*() {
        const plan = yield* Pin.plan
        const run = yield* runLoadgen([
          "--compare",
          "--pin",
          "--service",
          standIn,
          "--op",
          "sha256",
          "--requests",
          "6",
          "--concurrency",
          "2"
        ])
        strictEqual(run.code, 0, run.stderr)
        const lines = run.stdout.split("\n")
        deepStrictEqual(lines.slice(0, 2), ["loadgen --compare: sha256 × 6 at concurrency 2", Pin.describePlan(plan)])
        for (const label of ["threads", "inline"]) {
          const row = lines.find((line) => line.startsWith(`${label} `))?.trim().split(/\s+/)
          deepStrictEqual(row?.slice(0, 4), [label, "6", "0", "0"])
        }
        assertTrue(lines.some((line) => line.startsWith("threads / inline: throughput")), run.stdout)
      }),
    { timeout: 150_000 }
  )
})
