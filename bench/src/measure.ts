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

/** Nanoseconds per operation: wall-clock time, and the CPU time the whole process spent (every thread). */
export interface Timing {
  readonly wall: number
  readonly cpu: number
}

/**
 * Nanoseconds per operation of each candidate, as the median over `samples`
 * rounds; in each round every candidate runs once, in turn, so that they share
 * the machine's conditions. Each timed run starts after a full GC, so that a
 * candidate pays for collecting its own garbage, not the previous one's.
 *
 * Two clocks: wall-clock time, and the process's CPU time (`process.cpuUsage`:
 * user and system time of all its threads, the GC's helpers included). On a
 * busy machine the wall clock also counts the time the process waited for a
 * core; the CPU time does not, and its ratios move less with the load. On a
 * quiet machine the two agree, but for the GC's work on other threads, which
 * only the CPU time counts.
 */
export const nsPerOp = async (
  candidates: ReadonlyArray<Sample>,
  options: { readonly iterations: number; readonly samples: number }
): Promise<Map<string, Timing>> => {
  const wall = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  const cpu = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  for (const candidate of candidates) await candidate.run(Math.max(1, options.iterations >> 2)) // warm-up
  for (let round = 0; round < options.samples; round++) {
    for (const candidate of candidates) {
      gc() // outside the timing: no candidate pays for collecting another's garbage
      const cpuStart = process.cpuUsage()
      const start = process.hrtime.bigint()
      await candidate.run(options.iterations)
      const elapsed = Number(process.hrtime.bigint() - start)
      const used = process.cpuUsage(cpuStart)
      wall.get(candidate.name)!.push(elapsed / options.iterations)
      cpu.get(candidate.name)!.push(((used.user + used.system) * 1000) / options.iterations)
    }
  }
  return new Map(candidates.map((c) => [c.name, { wall: median(wall.get(c.name)!), cpu: median(cpu.get(c.name)!) }]))
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

const ratiosOf = (value: number, baselines: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(baselines).map(([k, v]) => [k, value / v]))

/** A result row, with the ratio of `value` to each baseline. */
export const row = (name: string, unit: string, value: number, baselines: Record<string, number>): Result => ({
  name,
  unit,
  value,
  baselines,
  ratios: ratiosOf(value, baselines)
})

/**
 * A time row from {@link nsPerOp}'s timings of `name` and of its `baselines`: wall-clock nanoseconds per
 * operation as the row's value, and the process's CPU time per operation beside it (`cpu`), each with its ratios.
 */
export const timeRow = (
  name: string,
  timings: ReadonlyMap<string, Timing>,
  baselines: ReadonlyArray<string>
): Result => {
  const of = (candidate: string) => timings.get(candidate)!
  const cpuBaselines = Object.fromEntries(baselines.map((b) => [b, of(b).cpu]))
  return {
    ...row(name, "ns", of(name).wall, Object.fromEntries(baselines.map((b) => [b, of(b).wall]))),
    cpu: { value: of(name).cpu, baselines: cpuBaselines, ratios: ratiosOf(of(name).cpu, cpuBaselines) }
  }
}
