/** A smoke test: `pnpm bench --quick` runs and writes a well-formed JSON file (no timing is asserted). */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const required = [
  "job-cycle",
  "job-cycle-allocation",
  "job-no-pause",
  "paused-job-heap",
  "facade-cycle",
  "pool-init-10k",
  "no-jobs-reject",
  "wait-ctx-set-clear",
  "durable-cycle-sqlite",
  "crypto-pool",
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
      strictEqual(typeof report.effect, "string")
      assertTrue(Number.isInteger(report.cpus) && report.cpus > 0)
      deepStrictEqual(report.results.map((r: { name: string }) => r.name), required)
      for (const r of report.results) {
        assertTrue(typeof r.unit === "string" && Number.isFinite(r.value) && r.value > 0)
        for (const [name, value] of Object.entries(r.baselines)) {
          assertTrue(Number.isFinite(value as number))
          strictEqual(r.ratios[name], r.value / (value as number))
        }
      }
      assertTrue(readFileSync(join(out, "latest.svg"), "utf8").startsWith("<svg"))
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

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
