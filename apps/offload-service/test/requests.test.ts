/**
 * The checks made of a request before HttpApi decodes it.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as requests from "../src/http/requests.js"

describe("requests", () => {
  it.effect("nestedAtMost counts arrays and objects, not brackets inside strings or escaped quotes", () =>
    Effect.sync(() => {
      assertTrue(requests.nestedAtMost(`{"op":"sha256","data":"[[[[{{{{"}`, 1))
      assertTrue(requests.nestedAtMost(`{"data":"\\"[[[[\\""}`, 1))
      assertTrue(requests.nestedAtMost(`[[1],[2]]`, 2))
      assertFalse(requests.nestedAtMost(`[[[1]]]`, 2))
      assertFalse(requests.nestedAtMost(`{"a":{"b":[1]}}`, 2))
    }))

  it.effect("isJson is the platform's rule: application/json in any case, with parameters, and nothing else (no +json)", () =>
    Effect.sync(() => {
      for (const type of ["application/json", "Application/JSON; charset=utf-8", " application/json ;x=y"]) {
        assertTrue(requests.isJson(type), type)
      }
      for (
        const type of [
          "text/plain",
          "application/jsonx",
          "text/json",
          "application/x-www-form-urlencoded",
          "application/problem+json",
          "application/vnd.x+json"
        ]
      ) {
        assertFalse(requests.isJson(type), type)
      }
    }))

  it.effect("allowedMethods: the methods of a known path, undefined for an unknown one", () =>
    Effect.sync(() => {
      deepStrictEqual(requests.allowedMethods("/jobs?wait=true"), ["POST"])
      deepStrictEqual(requests.allowedMethods("/jobs/abc"), ["GET", "DELETE"])
      strictEqual(requests.allowedMethods("/jobs/abc/def"), undefined)
    }))
})
