/** Timing helpers: warm-up, several samples, medians. Baselines are measured in the same run, interleaved. */

import type { Result } from "./benchmarks.js"

export interface Sample {
  readonly name: string
  /** runs `iterations` operations and resolves when done */
  readonly run: (iterations: number) => Promise<void> | void
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Nanoseconds per operation of each candidate, as the median over `samples`
 * rounds; in each round every candidate runs once, in turn, so that they share
 * the machine's conditions.
 */
export const nsPerOp = async (
  candidates: ReadonlyArray<Sample>,
  options: { readonly iterations: number; readonly samples: number }
): Promise<Map<string, number>> => {
  const times = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  for (const candidate of candidates) await candidate.run(Math.max(1, options.iterations >> 2)) // warm-up
  for (let round = 0; round < options.samples; round++) {
    for (const candidate of candidates) {
      const start = process.hrtime.bigint()
      await candidate.run(options.iterations)
      const elapsed = Number(process.hrtime.bigint() - start)
      times.get(candidate.name)!.push(elapsed / options.iterations)
    }
  }
  return new Map(Array.from(times, ([name, values]) => [name, median(values)]))
}

export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with node --expose-gc")
  collect()
  collect()
}

export const heapUsed = (): number => {
  gc()
  return process.memoryUsage().heapUsed
}

/** A result row, with the ratio of `value` to each baseline. */
export const row = (name: string, unit: string, value: number, baselines: Record<string, number>): Result => ({
  name,
  unit,
  value,
  baselines,
  ratios: Object.fromEntries(Object.entries(baselines).map(([k, v]) => [k, value / v]))
})
