import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual, throws } from "@effect/vitest/utils"
import * as Stats from "../src/loadgen/Stats.js"

describe("percentile", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1)

  it("is the nearest rank", () => {
    deepStrictEqual([50, 95, 99, 100].map((p) => Stats.percentile(hundred, p)), [50, 95, 99, 100])
    deepStrictEqual([1, 50, 51].map((p) => Stats.percentile([10, 20], p)), [10, 10, 20])
    deepStrictEqual([50, 95, 99].map((p) => Stats.percentile([1, 2, 3, 4], p)), [2, 4, 4])
    deepStrictEqual([50, 95, 99].map((p) => Stats.percentile([7], p)), [7, 7, 7])
  })

  it("rounds the rank up", () => {
    // 10 samples: p95 is the 10th (rank 9.5 → 10), p50 the 5th
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]
    strictEqual(Stats.percentile(ten, 95), 1000)
    strictEqual(Stats.percentile(ten, 90), 9)
    strictEqual(Stats.percentile(ten, 50), 5)
  })

  it("is NaN without samples and refuses p outside (0, 100]", () => {
    assertTrue(Number.isNaN(Stats.percentile([], 50)))
    throws(() => Stats.percentile(hundred, 0))
    throws(() => Stats.percentile(hundred, 101))
  })
})

describe("summarize", () => {
  it("sorts latencies and counts throughput from successful requests", () => {
    const summary = Stats.summarize({ latenciesMs: [4, 1, 3, 2], failed: 1, rejected: 7, elapsedMs: 2000 })
    deepStrictEqual(summary, {
      ok: 4,
      failed: 1,
      rejected: 7,
      elapsedMs: 2000,
      throughput: 2,
      latency: { p50: 2, p95: 4, p99: 4, mean: 2.5, max: 4 }
    })
  })

  it("has no latencies when nothing succeeded", () => {
    const summary = Stats.summarize({ latenciesMs: [], failed: 3, rejected: 0, elapsedMs: 10 })
    strictEqual(summary.ok, 0)
    strictEqual(summary.throughput, 0)
    assertTrue([summary.latency.p50, summary.latency.mean, summary.latency.max].every(Number.isNaN))
  })
})

describe("formatting", () => {
  const a = Stats.summarize({ latenciesMs: [10, 20], failed: 0, rejected: 0, elapsedMs: 1000 })
  const b = Stats.summarize({ latenciesMs: [40, 80], failed: 0, rejected: 2, elapsedMs: 4000 })

  it("prints aligned rows under one header", () => {
    const lines = Stats.table([["threads", a], ["inline", b]]).split("\n")
    strictEqual(lines.length, 3)
    assertTrue(lines[0]!.includes("p99 ms"))
    assertTrue(lines[1]!.startsWith("threads"))
    assertTrue(lines[2]!.startsWith("inline "))
    strictEqual(new Set(lines.map((line) => line.length)).size, 1)
  })

  it("states the ratios a / b", () => {
    deepStrictEqual(Stats.ratios(a, b), { throughput: 4, p50: 0.25, p95: 0.25, p99: 0.25 })
    strictEqual(
      Stats.ratioLine("threads", a, "inline", b),
      "threads / inline: throughput 4.00×, p50 0.25×, p95 0.25×, p99 0.25×"
    )
  })

  it("draws a progress bar", () => {
    strictEqual(
      Stats.progressBar({ done: 5, total: 10, elapsedMs: 1000, width: 10 }),
      "[#####.....]  50%  5/10  5 req/s"
    )
    strictEqual(
      Stats.progressBar({ done: 10, total: 10, elapsedMs: 0, width: 4, label: "inline" }),
      "inline [####] 100%  10/10  0 req/s"
    )
  })
})
