/**
 * The soak run (not part of CI): `pnpm test:soak` from the repository root.
 *
 * 1. 100,000 random programs against the reference model (`SOAK_PROGRAMS`
 *    overrides the number, `SOAK_SEED` the seed);
 * 2. ten million start → pause → resume → finish cycles on one pool
 *    (`SOAK_CYCLES`), printing the heap before and after;
 * 3. 100,000 pool lifecycles (`SOAK_POOLS`): make a pool, run one job, close
 *    it; printing the heap before and after and the growth per pool, which
 *    should be zero.
 *
 * `pnpm test:soak programs`, `pnpm test:soak cycles` or `pnpm test:soak pools`
 * runs one part only.
 */
import { AsyncJob, JobPool } from "@async-job/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import { runProgram } from "../property/harness.js"
import { program } from "../property/program.js"

const part = process.argv[2] ?? "all"
const programs = Number(process.env.SOAK_PROGRAMS ?? 100_000)
const cycles = Number(process.env.SOAK_CYCLES ?? 10_000_000)
const pools = Number(process.env.SOAK_POOLS ?? 100_000)
const seed = process.env.SOAK_SEED === undefined ? Date.now() : Number(process.env.SOAK_SEED)

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
const heap = (label: string) => {
  globalThis.gc?.()
  const { heapUsed, rss } = process.memoryUsage()
  console.log(`${label}: heap used ${mib(heapUsed)}, rss ${mib(rss)}`)
  return heapUsed
}

const soakPrograms = async () => {
  console.log(`${programs} programs, seed ${seed}`)
  const started = Date.now()
  let done = 0
  await fc.assert(
    fc.asyncProperty(program(), async (p) => {
      await Effect.runPromise(runProgram(p).pipe(Effect.timeout("10 seconds")))
      if (++done % 10_000 === 0) console.log(`  ${done} programs, ${((Date.now() - started) / 1000).toFixed(0)} s`)
    }),
    { numRuns: programs, seed }
  )
  console.log(`programs: all ${programs} agree with the model`)
}

const soakCycles = async () => {
  const before = heap("before the cycles")
  const started = Date.now()
  const body = Effect.as(AsyncJob.pause, 1)
  const program = Effect.gen(function*() {
    const pool = yield* JobPool.make({ maxSize: 1, initSize: 1 })
    for (let i = 1; i <= cycles; i++) {
      const step = yield* pool.start(body)
      if (step._tag !== "Paused") throw new Error(`cycle ${i}: expected Paused`)
      const done = yield* pool.resume(step.job)
      if (done._tag !== "Finished") throw new Error(`cycle ${i}: expected Finished`)
      if (i % 1_000_000 === 0) console.log(`  ${i} cycles, ${((Date.now() - started) / 1000).toFixed(0)} s`)
    }
    const stats = yield* pool.stats
    if (stats.created !== 1 || stats.idle !== 1) throw new Error(`pool grew: ${JSON.stringify(stats)}`)
  })
  await Effect.runPromise(Effect.scoped(program))
  const after = heap("after the cycles")
  console.log(
    `cycles: ${cycles} in ${((Date.now() - started) / 1000).toFixed(0)} s, heap change ${mib(after - before)}`
  )
}

const soakPools = async () => {
  const before = heap("before the pool lifecycles")
  const lifecycle = Effect.scoped(Effect.gen(function*() {
    const pool = yield* JobPool.make({ maxSize: 1 })
    const step = yield* pool.start(Effect.as(AsyncJob.pause, 1))
    if (step._tag === "Paused") yield* pool.resume(step.job)
  }))
  for (let i = 0; i < pools; i++) await Effect.runPromise(lifecycle)
  const after = heap("after the pool lifecycles")
  const perPool = (after - before) / pools
  console.log(`pools: ${pools} lifecycles, heap change ${mib(after - before)}, ${perPool.toFixed(0)} bytes per pool`)
  // a closed pool must leave nothing behind (its metrics are detached from the registry when it closes)
  if (perPool > 256) {
    console.error("pools: FAILED, every closed pool leaves memory behind")
    process.exitCode = 1
  }
}

if (part === "all" || part === "programs") await soakPrograms()
if (part === "all" || part === "cycles") await soakCycles()
if (part === "all" || part === "pools") await soakPools()
