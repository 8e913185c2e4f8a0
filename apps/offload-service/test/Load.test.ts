import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import type * as Operation from "../src/engine/Operation.js"
import * as Load from "../src/loadgen/Load.js"

interface Hit {
  readonly method: string
  readonly url: string
  readonly body: unknown
}

type Handler = (hit: Hit, answer: (status: number, body: unknown, headers?: Record<string, string>) => void) => void

/** A tiny HTTP server on 127.0.0.1 and an ephemeral port, closed with the scope. */
const testServer = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.callback<{ url: string; hits: Array<Hit>; server: Http.Server }>((resume) => {
      const hits: Array<Hit> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          const hit = { method: req.method!, url: req.url!, body: text === "" ? undefined : JSON.parse(text) }
          hits.push(hit)
          handler(hit, (status, body, headers = {}) => {
            res.writeHead(status, { "content-type": "application/json", ...headers })
            res.end(JSON.stringify(body))
          })
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, hits, server }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

const finished = (id: number, result: Operation.Result) => ({ id: String(id), state: "finished", result })
const sha = { op: "sha256", digest: "AAAA" } as const

describe("Load.run", () => {
  it.live("sends POST /jobs?wait=true with the op's body and counts finished jobs", () =>
    Effect.gen(function*() {
      let id = 0
      const server = yield* testServer((_, answer) => answer(200, finished(id++, sha)))
      const progress: Array<number> = []
      const report = yield* Load.run({
        url: server.url,
        op: "sha256",
        requests: 20,
        concurrency: 4,
        size: 16,
        onProgress: (done) => progress.push(done)
      })
      deepStrictEqual([report.ok, report.failed, report.rejected, report.errors], [20, 0, 0, []])
      strictEqual(server.hits.length, 20)
      for (const hit of server.hits) {
        deepStrictEqual(hit, { method: "POST", url: "/jobs?wait=true", body: { op: "sha256", data: "x".repeat(16) } })
      }
      deepStrictEqual(progress, Array.from({ length: 20 }, (_, i) => i + 1))
      assertTrue(report.latency.p50 <= report.latency.p95 && report.latency.p95 <= report.latency.p99)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("builds each op's inputs", () =>
    Effect.gen(function*() {
      const results: Record<Operation.Op, Operation.Result> = {
        "sha256": sha,
        "ecdsa-p256-sign": { op: "ecdsa-p256-sign", signature: "s", publicKey: "k" },
        "rsa2048-sign": { op: "rsa2048-sign", signature: "s", publicKey: "k" },
        "scrypt": { op: "scrypt", derivedKey: "d" }
      }
      const server = yield* testServer((hit, answer) =>
        answer(200, finished(1, results[(hit.body as Operation.Request).op]))
      )
      for (const op of ["ecdsa-p256-sign", "rsa2048-sign", "scrypt"] as const) {
        const report = yield* Load.run({ url: server.url, op, requests: 1, concurrency: 1, size: 3, scryptN: 1024 })
        strictEqual(report.ok, 1)
      }
      deepStrictEqual(server.hits.map((hit) => hit.body), [
        { op: "ecdsa-p256-sign", data: "xxx" },
        { op: "rsa2048-sign", data: "xxx" },
        { op: "scrypt", password: "correct horse battery staple", salt: "loadgen", N: 1024 }
      ])
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("counts each 503 and retries it after Retry-After", () =>
    Effect.gen(function*() {
      let busy = 3
      const server = yield* testServer((_, answer) => {
        if (busy-- > 0) answer(503, { error: { tag: "NoJobs", message: "full" } }, { "retry-after": "0" })
        else answer(200, finished(1, sha))
      })
      const report = yield* Load.run({ url: server.url, op: "sha256", requests: 5, concurrency: 2 })
      deepStrictEqual([report.ok, report.failed, report.rejected], [5, 0, 3])
      strictEqual(server.hits.length, 8)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("counts failures: error statuses, unexpected bodies, results for another op", () =>
    Effect.gen(function*() {
      let n = 0
      const server = yield* testServer((_, answer) => {
        const k = n++ % 4
        if (k === 0) answer(200, finished(k, sha))
        else if (k === 1) answer(500, { error: { tag: "Boom", message: "boom" } })
        else if (k === 2) answer(200, { id: "2", state: "running" })
        else answer(200, finished(k, { op: "scrypt", derivedKey: "d" }))
      })
      const report = yield* Load.run({ url: server.url, op: "sha256", requests: 8, concurrency: 1 })
      deepStrictEqual([report.ok, report.failed, report.rejected], [2, 6, 0])
      strictEqual(report.errors.length, 3)
      assertTrue(report.errors[0]!.startsWith("HTTP 500"))
      assertTrue(report.errors[1]!.startsWith("unexpected 200 body"))
      strictEqual(report.errors[2], "asked for sha256, got a result for scrypt")
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("keeps exactly `concurrency` requests in flight", () =>
    Effect.gen(function*() {
      // the server answers only once `concurrency` requests wait: a client with fewer in flight would stall
      const concurrency = 6
      const waiting: Array<() => void> = []
      let most = 0
      const server = yield* testServer((_, answer) => {
        waiting.push(() => answer(200, finished(1, sha)))
        most = Math.max(most, waiting.length)
        if (waiting.length === concurrency) { for (const release of waiting.splice(0)) release() }
      })
      const report = yield* Load.run({ url: server.url, op: "sha256", requests: concurrency * 3, concurrency })
      deepStrictEqual([report.ok, report.failed, most], [concurrency * 3, 0, concurrency])
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("reports a transport failure as a failed request", () =>
    Effect.gen(function*() {
      const server = yield* testServer((_, answer) => answer(200, finished(1, sha)))
      const url = server.url
      yield* Effect.callback<void>((resume) => {
        server.server.close(() => resume(Effect.void))
        server.server.closeAllConnections()
      })
      const report = yield* Load.run({ url, op: "sha256", requests: 2, concurrency: 1 })
      deepStrictEqual([report.ok, report.failed], [0, 2])
      strictEqual(report.errors.length, 1)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})

describe("parseRetryAfter", () => {
  it("reads delay-seconds, fractions and HTTP-dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    deepStrictEqual(Load.parseRetryAfter("2", now), Duration.millis(2000))
    deepStrictEqual(Load.parseRetryAfter(" 0.25 ", now), Duration.millis(250))
    deepStrictEqual(Load.parseRetryAfter("Wed, 01 Jan 2025 00:00:03 GMT", now), Duration.millis(3000))
    deepStrictEqual(Load.parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now), Duration.millis(0))
    strictEqual(Load.parseRetryAfter("soon", now), undefined)
    strictEqual(Load.parseRetryAfter("-1", now), undefined)
    strictEqual(Load.parseRetryAfter(undefined, now), undefined)
  })
})
