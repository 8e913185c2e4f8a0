import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "effect/FastCheck"
import { runProgram } from "./harness.js"
import { program } from "./program.js"

/**
 * How many programs `pnpm test` runs; `PROPERTY_RUNS` overrides it. A failure prints its seed and path:
 * `PROPERTY_SEED=<seed> PROPERTY_PATH=<path>` replays the shrunk counterexample at once. Paste the
 * counterexample into regressions.test.ts as a plain test.
 */
const runs = Number(process.env.PROPERTY_RUNS ?? 500)
const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED)
const path = process.env.PROPERTY_PATH

describe("engine against the reference model", () => {
  it.live(`${runs} random programs agree with the model step by step`, () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(program(), (p) => Effect.runPromise(runProgram(p).pipe(Effect.timeout("10 seconds")))),
        { numRuns: runs, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) }
      )
    ), { timeout: 120_000 })
})
