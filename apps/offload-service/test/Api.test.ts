/**
 * The API's errors on the wire: each tagged error encodes to
 * `{"error":{"tag","message","issues"?}}` and decodes back to its class.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, throws } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Api from "../src/http/api.js"

describe("Api.Wire", () => {
  it.effect("a tagged error encodes to the error body and decodes back to its class", () =>
    Effect.gen(function*() {
      const encoded = yield* Schema.encodeEffect(Api.Wire.NoJobs)(new Api.NoJobs({ message: "full" }))
      deepStrictEqual(encoded, { error: { tag: "NoJobs", message: "full" } })
      const decoded = yield* Schema.decodeUnknownEffect(Api.Wire.NoJobs)(encoded)
      assertTrue(decoded instanceof Api.NoJobs)
      deepStrictEqual([decoded._tag, decoded.message], ["NoJobs", "full"])
    }))

  it.effect("a validation error carries its issues; another tag's body does not decode", () =>
    Effect.gen(function*() {
      const error = new Api.ValidationError({
        message: "bad",
        issues: [{ path: ["data"], message: "Expected string" }]
      })
      const encoded = yield* Schema.encodeEffect(Api.Wire.ValidationError)(error)
      deepStrictEqual(encoded, {
        error: { tag: "ValidationError", message: "bad", issues: [{ path: ["data"], message: "Expected string" }] }
      })
      throws(() => Schema.decodeUnknownSync(Api.Wire.NotFound)(encoded))
    }))
})
