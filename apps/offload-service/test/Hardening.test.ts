/**
 * What an attacker or a busy operator did to the service (issue 24), each
 * reproduced against a real server on an ephemeral loopback port (engine:
 * ManualEngine, so jobs stay paused), bounded in count, stopping by itself.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Net from "node:net"
import * as ServiceConfig from "../src/config.js"
import * as Server from "../src/http/server.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { call, openConnection, pollUntil, raw, type RawReply } from "./utils/http.js"

const host = "127.0.0.1"

const TestServer = (overrides: Partial<ServiceConfig.ServiceConfig> = {}) =>
  Server.layer.pipe(
    Layer.provideMerge(ManualEngine.layer),
    Layer.provide(ServiceConfig.layer({ port: 0, shutdownGrace: Duration.zero, ...overrides }))
  )

const env = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const port = "port" in server.address ? server.address.port : 0
  return { url: yield* Server.url, port, engine: yield* ManualEngine.ManualEngine }
})

const sha = JSON.stringify({ op: "sha256", data: "abc" })

const post = (path: string, body: string | Uint8Array, headers: Record<string, string>, extra = "") => {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body)
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("")
  return Buffer.concat([
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${head}Content-Length: ${bytes.length}\r\n${extra}\r\n`),
    bytes
  ])
}

/** Connections that wrote `data` and stay open (until the scope closes); each answers what it received so far. */
const openMany = (port: number, count: number, data: string | Uint8Array) =>
  Effect.forEach(
    Array.from({ length: count }),
    () =>
      Effect.map(openConnection(host, port, data.toString()), (socket) => {
        const received: Array<Buffer> = []
        socket.on("data", (chunk: Buffer) => received.push(chunk))
        return { socket, received: () => Buffer.concat(received).toString("utf8") }
      })
  )

const statusOf = (text: string) => text.startsWith("HTTP/1.1 ") ? Number(text.slice(9, 12)) : undefined

const tagOf = (reply: RawReply | { readonly body: any }) => reply.body?.error?.tag as string | undefined

describe("1. no request can hang", () => {
  it.live("a JSON-like media type the platform does not take answers 415 at once; probes answer meanwhile", () =>
    Effect.gen(function*() {
      const { engine, port, url } = yield* env
      const request = post("/jobs", sha, { "Content-Type": "application/vnd.x+json" })
      const held = yield* openMany(port, 32, request.toString("latin1"))
      // every one is answered (and its connection closed) although its sender keeps the socket open
      const answered = yield* pollUntil(
        Effect.sync(() => held.map((connection) => statusOf(connection.received()))),
        (statuses) => statuses.every((status) => status !== undefined)
      )
      deepStrictEqual(new Set(answered), new Set([415]))
      strictEqual(engine.pendingIds().length, 0)
      strictEqual((yield* call(url, "GET", "/healthz")).status, 200)
      for (const contentType of ["application/json", "Application/JSON; charset=utf-8"]) {
        strictEqual(
          (yield* raw(host, port, post("/jobs", sha, { "Content-Type": contentType }, "Connection: close\r\n"))).status,
          202
        )
      }
    }).pipe(Effect.scoped, Effect.provide(TestServer({ maxConnections: 64 }))))
})

describe("2. memory bounded by bytes for every job a client leaves behind", () => {
  it.live("inputs of jobs accepted and not ended count against MAX_QUEUED_BYTES: past it, 503 Overloaded", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const big = JSON.stringify({ op: "sha256", data: "x".repeat(300 * 1024) }) // 600 KiB counted
      strictEqual((yield* call(url, "POST", "/jobs", big)).status, 202)
      const refused = yield* call(url, "POST", "/jobs", big)
      strictEqual(refused.status, 503)
      strictEqual(tagOf(refused), "Overloaded")
      strictEqual(refused.headers.get("retry-after"), "1")
      // small ones still fit beside it
      strictEqual((yield* call(url, "POST", "/jobs", sha)).status, 202)
      // once the big one ends, the room is back
      yield* engine.release(engine.pendingIds()[0]!)
      const accepted = yield* pollUntil(call(url, "POST", "/jobs", big), (reply) => reply.status !== 503)
      strictEqual(accepted.status, 202)
    }).pipe(Effect.provide(TestServer({ maxQueuedBytes: 1024 * 1024 }))))
})

describe("3. no lock-out before authentication", () => {
  const stalled = (port: number, count: number) =>
    openMany(
      port,
      count,
      `POST /jobs HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"op":"sha`
    )

  it.live("uploads that declare 1 MiB and stall after 10 bytes reserve 10 bytes: others are still served", () =>
    Effect.gen(function*() {
      const { port, url } = yield* env
      yield* stalled(port, 16)
      // 16 × 1 MiB declared would be 16 times the budget; received, they hold 160 bytes
      const reply = yield* call(url, "POST", "/jobs", JSON.parse(sha))
      strictEqual(reply.status, 202)
    }).pipe(Effect.scoped, Effect.provide(TestServer({ maxBufferedBytes: 1024 * 1024 }))))

  it.live("with AUTH_TOKEN, an unauthenticated upload is refused (401) before any of its body is kept", () =>
    Effect.gen(function*() {
      const { port, url } = yield* env
      const held = yield* stalled(port, 16)
      const statuses = yield* pollUntil(
        Effect.sync(() => held.map((connection) => statusOf(connection.received()))),
        (all) => all.every((status) => status !== undefined)
      )
      deepStrictEqual(new Set(statuses), new Set([401]))
      const authorized = yield* Effect.promise(() =>
        fetch(`${url}/jobs`, {
          method: "POST",
          body: sha,
          headers: { "content-type": "application/json", authorization: "Bearer s3cret" }
        }).then((response) => response.status)
      )
      strictEqual(authorized, 202)
    }).pipe(
      Effect.scoped,
      Effect.provide(TestServer({ maxBufferedBytes: 64 * 1024, authToken: Option.some(Redacted.make("s3cret")) }))
    ))
})

describe("4. probes and overload answers stay reachable", () => {
  it.live("past MAX_CONNECTIONS: 503 Overloaded with Retry-After, not a reset; /healthz and /readyz answer", () =>
    Effect.gen(function*() {
      const { port } = yield* env
      const idle: ReadonlyArray<{ readonly socket: Net.Socket }> = yield* openMany(port, 8, "")
      strictEqual(idle.length, 8)
      // node counts a connection once it accepted it: wait until one beyond the cap is over it
      const refused = yield* pollUntil(
        raw(host, port, post("/jobs", sha, { "Content-Type": "application/json" })),
        (reply) => reply.status === 503
      )
      strictEqual(tagOf(refused), "Overloaded")
      strictEqual(refused.headers["retry-after"], "1")
      strictEqual(refused.headers["connection"], "close")
      for (const probe of ["/healthz", "/readyz"]) {
        const reply = yield* raw(host, port, `GET ${probe} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
        strictEqual(reply.status, 200, probe)
      }
    }).pipe(Effect.scoped, Effect.provide(TestServer({ maxConnections: 8 }))))
})

describe("6. host check", () => {
  it.live("a Host the service does not answer for is refused (421), its origin equal or not: no DNS rebinding", () =>
    Effect.gen(function*() {
      const { engine, port } = yield* env
      const rebound = yield* raw(
        host,
        port,
        `POST /jobs HTTP/1.1\r\nHost: evil.example:${port}\r\nOrigin: http://evil.example:${port}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${sha.length}\r\n\r\n${sha}`
      )
      strictEqual(rebound.status, 421)
      strictEqual(tagOf(rebound), "MisdirectedRequest")
      strictEqual(engine.pendingIds().length, 0)
      // the loopback names are this service's
      for (const name of ["localhost", "127.0.0.1", "[::1]"]) {
        strictEqual(
          (yield* raw(host, port, `GET /stats HTTP/1.1\r\nHost: ${name}:${port}\r\nConnection: close\r\n\r\n`)).status,
          200,
          name
        )
      }
    }).pipe(Effect.provide(TestServer())))

  it.live("ALLOWED_HOSTS: a same-origin call through a TLS proxy (https://<own host>) is taken", () =>
    Effect.gen(function*() {
      const { port } = yield* env
      const proxied = yield* raw(
        host,
        port,
        `POST /jobs HTTP/1.1\r\nHost: offload.example\r\nOrigin: https://offload.example\r\nConnection: close\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${sha.length}\r\n\r\n${sha}`
      )
      strictEqual(proxied.status, 202)
      const other = yield* raw(
        host,
        port,
        `GET /stats HTTP/1.1\r\nHost: offload.example\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n`
      )
      strictEqual(other.status, 403)
    }).pipe(Effect.provide(TestServer({ allowedHosts: ["offload.example"] }))))
})

describe("7. input is what was sent", () => {
  it.live("invalid UTF-8 answers 400 MalformedJson, not the digest of a replacement", () =>
    Effect.gen(function*() {
      const { engine, port } = yield* env
      const body = Buffer.concat([
        Buffer.from(`{"op":"sha256","data":"`),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
        Buffer.from(`"}`)
      ])
      const reply = yield* raw(
        host,
        port,
        post("/jobs?wait=true", body, { "Content-Type": "application/json" }, "Connection: close\r\n")
      )
      strictEqual(reply.status, 400)
      strictEqual(tagOf(reply), "MalformedJson")
      strictEqual(engine.pendingIds().length, 0)
    }).pipe(Effect.provide(TestServer())))

  it.live("error bodies are bounded: a 1 MB op comes back as a short validation error", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      const reply = yield* call(url, "POST", "/jobs", { op: "z".repeat(1_000_000), data: "abc" })
      strictEqual(reply.status, 400)
      strictEqual(tagOf(reply), "ValidationError")
      assertTrue(reply.text.length < 4096, `${reply.text.length} bytes`)
    }).pipe(Effect.provide(TestServer())))

  it.live("malformed job ids answer 400, well-formed unknown ones 404", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      for (const id of ["..%2F", "%00", "x".repeat(40)]) {
        const reply = yield* call(url, "GET", `/jobs/${id}`)
        strictEqual(reply.status, 400, id)
        strictEqual(tagOf(reply), "ValidationError")
      }
      strictEqual((yield* call(url, "GET", `/jobs/${crypto.randomUUID()}`)).status, 404)
      strictEqual((yield* call(url, "DELETE", "/jobs/%00")).status, 400)
    }).pipe(Effect.provide(TestServer())))
})

describe("10. less by hand", () => {
  it.live("CORS is the platform's in every mode: a preflight with no origins configured allows none", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      const preflight = yield* Effect.promise(() =>
        fetch(`${url}/jobs`, {
          method: "OPTIONS",
          headers: { origin: "https://app.example", "access-control-request-method": "POST" }
        })
      )
      // refused as any request from another origin is, with no CORS header granting it
      strictEqual(preflight.status, 403)
      strictEqual(preflight.headers.get("access-control-allow-origin"), null)
    }).pipe(Effect.provide(TestServer())))
})
