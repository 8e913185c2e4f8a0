/** A smoke test: `pnpm bench --quick` runs and writes a well-formed JSON file (no timing is asserted). */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const required = [
  "job-cycle",
  "job-no-pause",
  "paused-job-heap",
  "facade-cycle",
  "pool-init-10k",
  "no-jobs-reject",
  "wait-ctx-set-clear",
  "durable-cycle-sqlite"
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
})
