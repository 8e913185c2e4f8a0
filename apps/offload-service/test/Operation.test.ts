import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Operation from "../src/engine/Operation.js"

const decode = Operation.decodeRequestResult
const mib = 1024 * 1024

describe("Operation.Request", () => {
  const good: Array<[string, unknown]> = [
    ["sha256", { op: "sha256", data: "hello" }],
    ["sha256 of the empty string", { op: "sha256", data: "" }],
    ["sha256 of exactly 1 MiB", { op: "sha256", data: "a".repeat(mib) }],
    ["ecdsa-p256-sign", { op: "ecdsa-p256-sign", data: "hello" }],
    ["rsa2048-sign", { op: "rsa2048-sign", data: "hello" }],
    ["scrypt at N = 2", { op: "scrypt", password: "p", salt: "s", N: 2 }],
    ["scrypt at N = 2^16", { op: "scrypt", password: "p", salt: "s", N: 65536 }]
  ]
  for (const [name, body] of good) {
    it(`accepts ${name}`, () => {
      deepStrictEqual(decode(body), Result.succeed(body as Operation.Request))
    })
  }

  it("ignores fields it does not know", () => {
    deepStrictEqual(decode({ op: "sha256", data: "x", extra: 1 }), Result.succeed({ op: "sha256", data: "x" } as const))
  })

  // each bad body, and a fragment the error message must contain
  const bad: Array<[string, unknown, string]> = [
    ["not an object", "sha256", "Expected"],
    ["null", null, "Expected"],
    ["no op", { data: "x" }, "[\"op\"]"],
    ["an unknown op", { op: "md5", data: "x" }, "\"md5\""],
    ["an op of the wrong type", { op: 1, data: "x" }, "[\"op\"]"],
    ["missing data", { op: "sha256" }, "[\"data\"]"],
    ["data a number", { op: "ecdsa-p256-sign", data: 42 }, "[\"data\"]"],
    ["data over 1 MiB", { op: "rsa2048-sign", data: "a".repeat(mib + 1) }, "at most 1048576 bytes"],
    ["data over 1 MiB once UTF-8 encoded", { op: "sha256", data: "é".repeat(mib / 2 + 1) }, "got 1048578"],
    ["scrypt without N", { op: "scrypt", password: "p", salt: "s" }, "[\"N\"]"],
    ["scrypt without salt", { op: "scrypt", password: "p", N: 16 }, "[\"salt\"]"],
    ["scrypt with a numeric password", { op: "scrypt", password: 1, salt: "s", N: 16 }, "[\"password\"]"],
    ["N as a string", { op: "scrypt", password: "p", salt: "s", N: "16" }, "[\"N\"]"],
    ["N = 1", { op: "scrypt", password: "p", salt: "s", N: 1 }, "power of two"],
    ["N not a power of two", { op: "scrypt", password: "p", salt: "s", N: 1000 }, "got 1000"],
    ["N fractional", { op: "scrypt", password: "p", salt: "s", N: 2.5 }, "power of two"],
    ["N = 2^17", { op: "scrypt", password: "p", salt: "s", N: 131072 }, "got 131072"],
    ["N negative", { op: "scrypt", password: "p", salt: "s", N: -16 }, "power of two"]
  ]
  for (const [name, body, fragment] of bad) {
    it(`rejects ${name}`, () => {
      const result = decode(body)
      assertTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        const message = result.failure.message
        assertTrue(message.includes(fragment), `${JSON.stringify(fragment)} not in: ${message}`)
      }
    })
  }

  it.effect("decodeRequest fails with a SchemaError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Operation.decodeRequest({ op: "scrypt", password: "p", salt: "s", N: 3 }))
      strictEqual(error._tag, "SchemaError")
    }))
})

describe("Operation.Result", () => {
  it("is tagged by op", () => {
    const decodeResult = Schema.decodeUnknownResult(Operation.Result)
    assertTrue(Result.isSuccess(decodeResult({ op: "scrypt", derivedKey: "AA==" })))
    assertTrue(Result.isFailure(decodeResult({ op: "scrypt", digest: "AA==" })))
  })
})
