/**
 * A smoke test: `pnpm bench --quick` runs every entry, each with its baselines, and writes a well-formed JSON file
 * and its chart. No figure is asserted: the machine may be loaded, and the bench reports ratios, it does not judge.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const required = [
  "job-cycle",
  "job-cycle-allocation",
  "design-floor",
  "job-no-pause",
  "paused-job-heap",
  "facade-cycle",
  "pool-init-10k",
  "no-jobs-reject",
  "wait-ctx-set-clear",
  "durable-cycle-sqlite",
  "durable-throughput-sqlite",
  "durable-cycle-postgres",
  "durable-throughput-postgres",
  "crypto-pool",
  "rsa2048-sign",
  "ecdsa-p256-sign",
  "service-sha256",
  "service-ecdsa-p256-sign",
  "service-rsa2048-sign",
  "service-scrypt",
  "service-startup",
  "service-rss"
]

/** The baselines each entry is judged against (issue 23): effect 4's recipes and effect 3.22.4's, in the same run. */
const baselines: Record<string, ReadonlyArray<string>> = {
  "job-cycle": ["effect-fork-deferred", "effect3-fork-deferred", "design-floor"],
  "job-cycle-allocation": ["effect-fork-deferred", "effect3-fork-deferred", "design-floor"],
  "design-floor": ["effect3-design-floor", "effect-fork-deferred"],
  "job-no-pause": ["effect-fork-join", "effect3-fork-join"],
  "paused-job-heap": ["effect-fiber-heap", "effect3-fiber-heap", "design-floor"],
  "facade-cycle": ["job-cycle"],
  "pool-init-10k": ["effect-pool-10k"],
  "durable-cycle-sqlite": ["sqlite-insert-select"],
  "durable-throughput-sqlite": ["sqlite-insert-select-64"],
  "durable-cycle-postgres": ["pg-insert-select"],
  "durable-throughput-postgres": ["pg-insert-select-64"],
  "crypto-pool": ["hand-made-pool"],
  "service-sha256": ["fastify-piscina"],
  "service-ecdsa-p256-sign": ["fastify-piscina"],
  "service-rsa2048-sign": ["fastify-piscina"],
  "service-scrypt": ["fastify-piscina"],
  "service-startup": ["fastify-piscina"],
  "service-rss": ["fastify-piscina"]
}

/** The service against its peer under load (issue 27): each side answered every request 2xx. */
const underLoad = ["service-sha256", "service-ecdsa-p256-sign", "service-rsa2048-sign", "service-scrypt"]

/** Entries whose figure is not async-job's engine, and say so. */
const subjects: Record<string, RegExp> = {
  "design-floor": /no engine/,
  "crypto-pool": /not shipped/,
  "rsa2048-sign": /^node:crypto$/,
  "ecdsa-p256-sign": /^node:crypto$/
}

/** Entries timed in the bench's own process: they report the process's CPU time beside the wall clock. */
const withCpu = [
  "job-cycle",
  "design-floor",
  "job-no-pause",
  "facade-cycle",
  "no-jobs-reject",
  "wait-ctx-set-clear",
  "rsa2048-sign",
  "ecdsa-p256-sign"
]

describe("pnpm bench --quick", () => {
  it("writes latest.json with every required entry and latest.svg", () => {
    const out = mkdtempSync(join(tmpdir(), "bench-"))
    try {
      execFileSync("pnpm", ["--silent", "bench", "--quick", "--out", out], {
        cwd: join(import.meta.dirname, ".."),
        stdio: ["ignore", "pipe", "pipe"]
      })
      const report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"))
      strictEqual(typeof report.node, "string")
      assertTrue(report.effect.startsWith("4."), report.effect)
      assertTrue(report.effect3.startsWith("3."), report.effect3)
      assertTrue(Number.isInteger(report.cpus) && report.cpus > 0)
      strictEqual(report.quick, true)
      assertTrue(Number.isFinite(report.loadAverage.before) && Number.isFinite(report.loadAverage.after))
      assertTrue(report.settings.samplingInterval > 0 && report.settings.allocationCycles > 0)
      deepStrictEqual(report.results.map((r: { name: string }) => r.name), required)
      for (const r of report.results) {
        assertTrue(typeof r.unit === "string" && Number.isFinite(r.value) && r.value > 0, r.name)
        for (const name of baselines[r.name] ?? []) assertTrue(name in r.baselines, `${r.name} lacks ${name}`)
        for (const [name, value] of Object.entries(r.baselines)) {
          assertTrue(Number.isFinite(value as number) && (value as number) > 0, `${r.name}: ${name}`)
          strictEqual(r.ratios[name], r.value / (value as number))
        }
        if (withCpu.includes(r.name)) {
          assertTrue(Number.isFinite(r.cpu.value) && r.cpu.value > 0, r.name)
          deepStrictEqual(Object.keys(r.cpu.baselines), Object.keys(r.baselines))
          for (const [name, value] of Object.entries(r.cpu.baselines)) {
            strictEqual(r.cpu.ratios[name], r.cpu.value / (value as number))
          }
        } else {
          strictEqual(r.cpu, undefined, r.name)
        }
        if (r.detail !== undefined) {
          for (const [name, value] of Object.entries(r.detail)) assertTrue(Number.isFinite(value), `${r.name}: ${name}`)
        }
        if (underLoad.includes(r.name)) {
          strictEqual(r.unit, "µs")
          deepStrictEqual([r.detail["service answers not 2xx"], r.detail["fastify-piscina answers not 2xx"]], [0, 0])
        }
        const subject = subjects[r.name]
        if (subject === undefined) strictEqual(r.subject, undefined, r.name)
        else assertTrue(subject.test(r.subject), `${r.name}: ${r.subject}`)
      }
      assertTrue(readFileSync(join(out, "latest.svg"), "utf8").startsWith("<svg"))
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 300_000) // every entry, each starting what it measures (workers, a SQLite store): minutes on a loaded machine

  it("without --out, --quick writes to a new temporary directory and leaves the committed figures alone", () => {
    const committed = join(import.meta.dirname, "..", "results", "latest.json")
    const before = readFileSync(committed, "utf8")
    const run = spawnSync("pnpm", ["--silent", "bench", "--quick", "--only", "wait-ctx-set-clear"], {
      cwd: join(import.meta.dirname, ".."),
      encoding: "utf8"
    })
    strictEqual(run.status, 0, run.stderr)
    const written = /^wrote (.+)\/latest\.json and latest\.svg$/m.exec(run.stderr)?.[1]
    assertTrue(written !== undefined, run.stderr)
    try {
      assertTrue(written.startsWith(tmpdir()))
      deepStrictEqual(
        JSON.parse(readFileSync(join(written, "latest.json"), "utf8")).results.map((r: { name: string }) => r.name),
        ["wait-ctx-set-clear"]
      )
      strictEqual(readFileSync(committed, "utf8"), before)
    } finally {
      rmSync(written, { recursive: true, force: true })
    }
  })

  it("an unknown --only entry is refused with exit code 2, running nothing", () => {
    const run = spawnSync("pnpm", ["--silent", "bench", "--quick", "--only", "job-cycle,no-such-entry"], {
      cwd: join(import.meta.dirname, ".."),
      encoding: "utf8"
    })
    strictEqual(run.status, 2)
    assertTrue(run.stderr.includes("--only takes entries among"), run.stderr)
    assertTrue(!run.stderr.includes("done"), run.stderr)
  })
})
