/** The project really runs on effect 3.19.0: without this, a broken alias would test the newest twice. */
import { describe, it } from "@effect/vitest"
import { strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"

describe("effect-oldest", () => {
  it.effect("runs on effect 3.19.0", () =>
    Effect.sync(() => {
      // every Effect carries the version of the effect release that made it
      const variance = (Effect.void as unknown as Record<symbol, { readonly _V: string }>)[Symbol.for("effect/Effect")]
      strictEqual(variance?._V, "3.19.0")
    }))
})
