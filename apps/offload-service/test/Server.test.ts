/**
 * The HTTP API against a real server on an ephemeral loopback port, with the
 * real worker-thread engine behind it.
 */
import { describe, expect, layer } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Crypto from "node:crypto"
import * as ServiceConfig from "../src/config.js"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import * as Server from "../src/http/server.js"
import { awaitEnded, call, errorShape } from "./utils/http.js"

const keys = await Effect.runPromise(CryptoEngine.generateKeys)

const TestServer = Server.layer.pipe(
  Layer.provide(CryptoEngine.layer({ threads: 2, keys })),
  Layer.provide(ServiceConfig.layer({ port: 0 }))
)

const verify = (data: string, publicKey: string, signature: string) =>
  Crypto.verify(
    "sha256",
    Buffer.from(data, "utf8"),
    Crypto.createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" }),
    Buffer.from(signature, "base64")
  )

const statsKeys = ["maxSize", "created", "idle", "running", "paused", "finished", "failed", "cancelled", "noJobs"]

const limit = ServiceConfig.defaultMaxBodyBytes
const mib = 1024 * 1024

layer(TestServer, { excludeTestServices: true })("offload service (worker-thread engine)", (it) => {
  const base = Server.url
  const post = (body: unknown, query = "?wait=true") =>
    Effect.flatMap(base, (url) => call(url, "POST", `/jobs${query}`, body as object))

  describe("operations", () => {
    it.effect("sha256 answers the digest of the UTF-8 bytes", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "sha256", data: "héllo ✓" })
        strictEqual(reply.status, 200)
        deepStrictEqual(Object.keys(reply.body).sort(), ["id", "op", "result", "state"])
        strictEqual(reply.body.state, "finished")
        deepStrictEqual(reply.body.result, {
          op: "sha256",
          digest: Crypto.createHash("sha256").update("héllo ✓", "utf8").digest("base64")
        })
      }))

    it.effect("ecdsa-p256-sign answers a signature that verifies under the public key it answers", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "ecdsa-p256-sign", data: "to sign" })
        strictEqual(reply.status, 200)
        strictEqual(reply.body.result.op, "ecdsa-p256-sign")
        assertTrue(verify("to sign", reply.body.result.publicKey, reply.body.result.signature))
        strictEqual(reply.body.result.publicKey, Buffer.from(keys.ecdsaP256.publicKey).toString("base64"))
      }))

    it.effect("rsa2048-sign answers a signature that verifies under the public key it answers", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "rsa2048-sign", data: "to sign" })
        strictEqual(reply.status, 200)
        strictEqual(reply.body.result.op, "rsa2048-sign")
        assertTrue(verify("to sign", reply.body.result.publicKey, reply.body.result.signature))
      }))

    it.effect("scrypt matches node's scrypt (r 8, p 1, 64 bytes)", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "scrypt", password: "pw", salt: "salt", N: 1024 })
        strictEqual(reply.status, 200)
        deepStrictEqual(reply.body.result, {
          op: "scrypt",
          derivedKey: Crypto.scryptSync("pw", "salt", 64, { N: 1024, r: 8, p: 1 }).toString("base64")
        })
      }))

    it.effect("without ?wait=true: 202 {id, state}, then GET shows the job until it has finished", () =>
      Effect.gen(function*() {
        const url = yield* base
        const accepted = yield* post({ op: "sha256", data: "abc" }, "")
        strictEqual(accepted.status, 202)
        deepStrictEqual(Object.keys(accepted.body), ["id", "state"])
        assertTrue(["running", "paused"].includes(accepted.body.state))
        const ended = yield* awaitEnded(url, accepted.body.id)
        strictEqual(ended.status, 200)
        deepStrictEqual(ended.body, {
          id: accepted.body.id,
          op: "sha256",
          state: "finished",
          result: { op: "sha256", digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" }
        })
      }))

    it.effect("?wait=false is the same as no wait", () =>
      Effect.gen(function*() {
        const accepted = yield* post({ op: "sha256", data: "abc" }, "?wait=false")
        strictEqual(accepted.status, 202)
      }))

    it.effect("a data of exactly 1 MiB is accepted (its JSON body is over 1 MiB, under the limit)", () =>
      Effect.gen(function*() {
        const data = "x".repeat(mib)
        const body = JSON.stringify({ op: "sha256", data })
        assertTrue(body.length > mib && body.length <= limit)
        const reply = yield* post(body)
        strictEqual(reply.status, 200)
        strictEqual(reply.body.result.digest, Crypto.createHash("sha256").update(data).digest("base64"))
      }))
  })

  describe("bad inputs", () => {
    const scrypt = (N: unknown) => ({ op: "scrypt", password: "p", salt: "s", N })
    const table: ReadonlyArray<readonly [string, string | Uint8Array | object, number, string, string?]> = [
      ["malformed JSON", "{\"op\": \"sha256\",", 400, "MalformedJson"],
      ["an empty body", "", 400, "MalformedJson"],
      ["bytes that are not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 400, "MalformedJson"],
      ["JSON that is not an object", "[1, 2]", 400, "ValidationError"],
      ["an unknown op", { op: "md5", data: "x" }, 400, "ValidationError", "op"],
      ["a missing op", { data: "x" }, 400, "ValidationError", "op"],
      ["a missing data", { op: "sha256" }, 400, "ValidationError", "data"],
      ["a data that is not a string", { op: "ecdsa-p256-sign", data: 42 }, 400, "ValidationError", "data"],
      ["a missing salt", { op: "scrypt", password: "p", N: 1024 }, 400, "ValidationError", "salt"],
      ["N not a power of two", scrypt(1000), 400, "ValidationError", "N"],
      ["N above 2^16", scrypt(131072), 400, "ValidationError", "N"],
      ["N below 2", scrypt(1), 400, "ValidationError", "N"],
      ["N not an integer", scrypt(1024.5), 400, "ValidationError", "N"],
      ["N as a string", scrypt("1024"), 400, "ValidationError", "N"],
      [
        "a data over 1 MiB (body under the limit)",
        { op: "sha256", data: "x".repeat(mib + 1) },
        400,
        "ValidationError",
        "data"
      ],
      ["a body over the limit", { op: "sha256", data: "x".repeat(limit) }, 413, "PayloadTooLarge"],
      ["JSON nested 100,000 deep", "[".repeat(100_000) + "]".repeat(100_000), 400, "ValidationError"],
      [
        "an object nested 10,000 deep as data",
        `{"op":"sha256","data":${"{\"a\":".repeat(10_000)}1${"}".repeat(10_000)}}`,
        400,
        "ValidationError"
      ],
      ["a NUL byte in op", { op: "sha256\u0000", data: "x" }, 400, "ValidationError", "op"]
    ]
    for (const [name, body, status, tag, field] of table) {
      it.effect(`${name}: ${status} ${tag}`, () =>
        Effect.gen(function*() {
          const reply = yield* post(body)
          strictEqual(reply.status, status)
          const shape = errorShape(reply)
          deepStrictEqual(shape.keys, ["error"])
          deepStrictEqual(shape.errorKeys, ["tag", "message"])
          strictEqual(shape.tag, tag)
          assertTrue(shape.hasMessage)
          if (field !== undefined) {
            assertTrue(reply.body.error.issues.some((issue: { path: Array<string> }) => issue.path.includes(field)))
          }
        }))
    }

    it.effect("a NUL byte in data is data: 200, hashed like any other byte", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "sha256", data: "a\u0000b" })
        strictEqual(reply.status, 200)
        strictEqual(reply.body.result.digest, Crypto.createHash("sha256").update("a\u0000b").digest("base64"))
      }))

    it.effect("malformed job ids (NUL, encoded slashes) answer 400 ValidationError; a path too long for a route 404", () =>
      Effect.gen(function*() {
        const url = yield* base
        for (const id of ["%00", "a%2Fb", "..%2F"]) {
          const reply = yield* call(url, "GET", `/jobs/${id}`)
          strictEqual(reply.status, 400, id)
          strictEqual(errorShape(reply).tag, "ValidationError")
        }
        const long = yield* call(url, "GET", `/jobs/${"x".repeat(8000)}`)
        strictEqual(long.status, 404)
        strictEqual(errorShape(long).tag, "NotFound")
      }))

    it.effect("an unknown ?wait value: 400 ValidationError", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "sha256", data: "x" }, "?wait=maybe")
        strictEqual(reply.status, 400)
        strictEqual(errorShape(reply).tag, "ValidationError")
        deepStrictEqual(reply.body.error.issues[0].path, ["wait"])
      }))

    it.effect("after a 413 the service still answers on new connections", () =>
      Effect.gen(function*() {
        const reply = yield* post({ op: "sha256", data: "x".repeat(limit) })
        strictEqual(reply.status, 413)
        strictEqual(reply.headers.get("connection"), "close")
        strictEqual((yield* post({ op: "sha256", data: "x" })).status, 200)
      }))
  })

  describe("jobs by id", () => {
    it.effect("an unknown id answers 404 to GET and DELETE", () =>
      Effect.gen(function*() {
        const url = yield* base
        for (const method of ["GET", "DELETE"]) {
          const reply = yield* call(url, method, `/jobs/${Crypto.randomUUID()}`)
          strictEqual(reply.status, 404)
          strictEqual(errorShape(reply).tag, "NotFound")
        }
      }))

    it.effect("DELETE on a finished job answers 409 and leaves it finished", () =>
      Effect.gen(function*() {
        const url = yield* base
        const done = yield* post({ op: "sha256", data: "x" })
        const reply = yield* call(url, "DELETE", `/jobs/${done.body.id}`)
        strictEqual(reply.status, 409)
        strictEqual(errorShape(reply).tag, "JobEnded")
        strictEqual((yield* call(url, "GET", `/jobs/${done.body.id}`)).body.state, "finished")
      }))

    it.effect("an unknown route answers 404 in the same error format", () =>
      Effect.gen(function*() {
        const reply = yield* call(yield* base, "GET", "/nowhere")
        strictEqual(reply.status, 404)
        strictEqual(errorShape(reply).tag, "NotFound")
      }))
  })

  describe("operations endpoints", () => {
    it.effect("/stats has exactly the fixed fields", () =>
      Effect.gen(function*() {
        yield* post({ op: "sha256", data: "x" })
        const reply = yield* call(yield* base, "GET", "/stats")
        strictEqual(reply.status, 200)
        deepStrictEqual(Object.keys(reply.body), statsKeys)
        strictEqual(reply.body.maxSize, 1024)
        assertTrue(reply.body.finished >= 1)
        for (const key of statsKeys) assertTrue(Number.isInteger(reply.body[key]))
      }))

    it.effect("/metrics is Prometheus text with the job engine's and the service's metrics", () =>
      Effect.gen(function*() {
        yield* post({ op: "sha256", data: "x" })
        const reply = yield* call(yield* base, "GET", "/metrics")
        strictEqual(reply.status, 200)
        assertTrue(reply.headers.get("content-type")!.startsWith("text/plain"))
        for (
          const line of [
            "# TYPE async_job_starts_total counter",
            "# TYPE async_job_pool_paused gauge",
            "# TYPE offload_job_duration_seconds histogram",
            "# TYPE offload_engine_requests_total counter"
          ]
        ) {
          expect(reply.text).toContain(line)
        }
        expect(reply.text).toMatch(/^async_job_resumes_total [1-9]\d*$/m)
        expect(reply.text).toMatch(/^offload_jobs_started_total\{op="sha256"\} [1-9]\d*$/m)
        expect(reply.text).toMatch(/^offload_jobs_ended_total\{op="sha256",outcome="finished"\} [1-9]\d*$/m)
        expect(reply.text).toMatch(/^async_job_pool_paused \d+$/m)
        expect(reply.text).toMatch(/^offload_job_duration_seconds_bucket\{op="sha256",le="\+Inf"\} [1-9]\d*$/m)
        expect(reply.text).toMatch(/^offload_engine_requests_total\{outcome="succeeded"\} [1-9]\d*$/m)
        // every line is a comment or a sample: name, optional labels, value
        for (const line of reply.text.split("\n").filter((line) => line !== "" && !line.startsWith("#"))) {
          expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?(\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$/)
        }
      }))

    it.effect("/docs serves the OpenAPI document, /docs/ui the Swagger UI", () =>
      Effect.gen(function*() {
        const url = yield* base
        const docs = yield* call(url, "GET", "/docs")
        strictEqual(docs.status, 200)
        strictEqual(docs.body.openapi, "3.1.0")
        deepStrictEqual(Object.keys(docs.body.paths).sort(), [
          "/healthz",
          "/jobs",
          "/jobs/{id}",
          "/metrics",
          "/readyz",
          "/stats"
        ])
        // every typed answer of POST /jobs is documented with its status
        deepStrictEqual(Object.keys(docs.body.paths["/jobs"].post.responses).sort(), [
          "200",
          "202",
          "400",
          "401",
          "403",
          "404",
          "405",
          "408",
          "413",
          "415",
          "421",
          "431",
          "500",
          "503"
        ])
        deepStrictEqual(Object.keys(docs.body.components.securitySchemes), ["bearer"])
        deepStrictEqual(Object.keys(docs.body.paths["/jobs/{id}"]).sort(), ["delete", "get"])
        // errors are documented as answered, one schema per tag: no HttpApiDecodeError, 400 is one of three
        strictEqual(docs.body.components.schemas.HttpApiDecodeError, undefined)
        deepStrictEqual(docs.body.paths["/jobs"].post.responses["400"].content["application/json"].schema, {
          anyOf: ["MalformedJson", "ValidationError", "MalformedHttp"].map((tag) => ({
            $ref: `#/components/schemas/${tag}`
          }))
        })
        deepStrictEqual(docs.body.components.schemas.NoJobs.properties.error.properties.tag, {
          type: "string",
          enum: ["NoJobs"]
        })
        const ui = yield* call(url, "GET", "/docs/ui")
        strictEqual(ui.status, 200)
        assertTrue(ui.headers.get("content-type")!.startsWith("text/html"))
      }))

    it.effect("/healthz answers 200", () =>
      Effect.gen(function*() {
        const reply = yield* call(yield* base, "GET", "/healthz")
        strictEqual(reply.status, 200)
        deepStrictEqual(reply.body, { status: "ok" })
      }))

    it.effect("the server listens on the loopback address", () =>
      Effect.gen(function*() {
        const server = yield* HttpServer.HttpServer
        strictEqual(new URL(HttpServer.formatAddress(server.address)).hostname, "127.0.0.1")
      }))
  })
})
