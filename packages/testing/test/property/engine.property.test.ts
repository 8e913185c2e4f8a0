import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { minimize, runProgram } from "./harness.js"
import { program } from "./program.js"

/**
 * How many programs `pnpm test` runs; `PROPERTY_RUNS` overrides it. A failure prints its seed and path
 * (`PROPERTY_SEED=<seed> PROPERTY_PATH=<path>` replays fast-check's counterexample at once) and a minimal
 * failing program: paste it into regressions.test.ts as a plain test.
 */
const runs = Number(process.env.PROPERTY_RUNS ?? 500)
const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED)
const path = process.env.PROPERTY_PATH

describe("engine against the reference model", () => {
  it.live(`${runs} random programs agree with the model step by step`, () =>
    Effect.promise(async () => {
      const details = await fc.check(
        fc.asyncProperty(program(), (p) => Effect.runPromise(runProgram(p).pipe(Effect.timeout("10 seconds")))),
        { numRuns: runs, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) }
      )
      if (!details.failed) return
      const minimal = await minimize(details.counterexample![0])
      throw new Error(
        `${fc.defaultReportMessage(details)}\n\nMinimal failing program:\n${JSON.stringify(minimal)}`
      )
    }), { timeout: 300_000 })
})
