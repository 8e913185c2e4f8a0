/** The project really runs on effect 4.1.0: without this, a broken alias would test the newest twice. */
import { describe, it } from "@effect/vitest"
import { strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Version from "effect/Version"

describe("effect-oldest", () => {
  it.effect("runs on effect 4.1.0", () =>
    Effect.sync(() => {
      strictEqual(Version.getCurrentVersion(), "4.1.0")
    }))
})
