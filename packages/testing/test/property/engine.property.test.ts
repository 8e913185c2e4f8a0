import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "effect/FastCheck"
import { runProgram } from "./harness.js"
import { program } from "./program.js"

/** How many programs `pnpm test` runs; `PROPERTY_RUNS` overrides it, `PROPERTY_SEED` replays a seed. */
const runs = Number(process.env.PROPERTY_RUNS ?? 500)
const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED)

describe("engine against the reference model", () => {
  it.live(`${runs} random programs agree with the model step by step`, () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(program(), (p) => Effect.runPromise(runProgram(p).pipe(Effect.timeout("10 seconds")))),
        { numRuns: runs, ...(seed === undefined ? {} : { seed }) }
      )
    ), { timeout: 120_000 })
})
