/**
 * Measuring helpers: time per operation and bytes allocated per operation, each the median of interleaved rounds
 * (every candidate once per round, in turn, so that all share the machine's conditions), after a warm-up; heap
 * held per parked unit. Baselines are measured in the same run as the entry they judge.
 */
import { Session } from "node:inspector/promises"
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
 * the machine's conditions. Each timed run starts after a full GC, so that a
 * candidate pays for collecting its own garbage, not the previous one's.
 */
export const nsPerOp = async (
  candidates: ReadonlyArray<Sample>,
  options: { readonly iterations: number; readonly samples: number }
): Promise<Map<string, number>> => {
  const times = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  for (const candidate of candidates) await candidate.run(Math.max(1, options.iterations >> 2)) // warm-up
  for (let round = 0; round < options.samples; round++) {
    for (const candidate of candidates) {
      gc() // outside the timing: no candidate pays for collecting another's garbage
      const start = process.hrtime.bigint()
      await candidate.run(options.iterations)
      const elapsed = Number(process.hrtime.bigint() - start)
      times.get(candidate.name)!.push(elapsed / options.iterations)
    }
  }
  return new Map(Array.from(times, ([name, values]) => [name, median(values)]))
}

/**
 * Bytes allocated per operation of each candidate, collected or not, as the median over `samples` rounds
 * interleaved like {@link nsPerOp}'s: in each round, each candidate runs `iterations` operations under V8's
 * sampling heap profiler (`HeapProfiler.startSampling` through `node:inspector`), which keeps the samples of objects
 * the GC has freed too, at a mean interval of `samplingInterval` bytes; the profile's total over `iterations` is a
 * round's figure. Every candidate first runs `iterations` operations unsampled, so that its code is optimized.
 *
 * Unlike a time, this does not move with the machine's load. What moves it:
 * - the sampling: a round of A bytes holds about A / samplingInterval samples (20,000 cycles of 4 KB at 512 bytes:
 *   ~160,000 samples, a relative error near 0.25%);
 * - what V8 has optimized, and how: an optimized function allocates no object that does not escape it, and V8
 *   optimizes code shared by several candidates (effect's run loop) according to all of them. A candidate measured
 *   alone in a process has measured 10–20% apart from the same candidate measured beside the others (the design
 *   floor: 1.9 KB alone, 1.6 KB beside the engine), and the first round after the warm-up runs a few percent
 *   above the later ones. Measured together, in a fixed order, the median of 5 rounds repeats within about 2%
 *   from one process to the next.
 */
export const bytesPerOp = async (
  candidates: ReadonlyArray<Sample>,
  options: { readonly iterations: number; readonly samples: number; readonly samplingInterval: number }
): Promise<Map<string, number>> => {
  const bytes = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  for (const candidate of candidates) await candidate.run(options.iterations) // warm-up
  const session = new Session()
  session.connect()
  try {
    for (let round = 0; round < options.samples; round++) {
      for (const candidate of candidates) {
        gc()
        await session.post("HeapProfiler.startSampling", {
          samplingInterval: options.samplingInterval,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true
        } as { samplingInterval: number })
        await candidate.run(options.iterations)
        const { profile } = await session.post("HeapProfiler.stopSampling")
        let total = 0
        const walk = (node: { selfSize: number; children: ReadonlyArray<typeof node> }): void => {
          total += node.selfSize
          node.children.forEach(walk)
        }
        walk(profile.head)
        bytes.get(candidate.name)!.push(total / options.iterations)
      }
    }
  } finally {
    session.disconnect()
  }
  return new Map(Array.from(bytes, ([name, values]) => [name, median(values)]))
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
