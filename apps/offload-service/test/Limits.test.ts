/**
 * What protects the service from clients and web pages, on a real server on
 * an ephemeral loopback port (engine: ManualEngine, so jobs stay paused):
 * content types, methods, origins, the bearer token, node's limits and
 * timeouts answered as typed JSON, the connection bound and the bound on the
 * request bytes in progress.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ServiceConfig from "../src/config.js"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import * as Server from "../src/http/server.js"
import * as Service from "../src/loadgen/Service.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { call, connectionRefused, errorShape, openConnection, pollUntil, raw, type RawReply } from "./utils/http.js"

const host = "127.0.0.1"

const TestServer = (overrides: Partial<ServiceConfig.ServiceConfig> = {}) =>
  Server.layer.pipe(
    Layer.provideMerge(ManualEngine.layer),
    // the raw requests below name the host "x"
    Layer.provide(ServiceConfig.layer({ port: 0, shutdownGrace: Duration.zero, allowedHosts: ["x"], ...overrides }))
  )

const env = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const port = "port" in server.address ? server.address.port : 0
  return { url: yield* Server.url, port, engine: yield* ManualEngine.ManualEngine }
})

const sha = JSON.stringify({ op: "sha256", data: "abc" })

const send = (url: string, path: string, init: RequestInit) =>
  Effect.promise(async (signal) => {
    const response = await fetch(new URL(path, url), { ...init, signal, redirect: "manual" })
    const text = await response.text()
    let body: any = undefined
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, text, body }
  })

/** A typed error body: `{"error":{"tag","message"}}` with this tag. */
const assertTyped = (reply: { readonly body: any }, tag: string) => {
  const shape = errorShape({ status: 0, headers: new Headers(), text: "", body: reply.body })
  deepStrictEqual(shape.keys, ["error"])
  strictEqual(shape.tag, tag)
  assertTrue(shape.hasMessage)
}

const assertRawTyped = (reply: RawReply, status: number, tag: string) => {
  strictEqual(reply.status, status, reply.text)
  strictEqual(reply.headers["content-type"], "application/json")
  assertTyped(reply, tag)
}

describe("start", () => {
  it.live("the port opens only once the jobs are ready: before, connections are refused, not left hanging", () =>
    Effect.gen(function*() {
      const port = yield* Service.freePort(host)
      const building = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      // an engine that is ready only when the test says so (a durable backend's database start, in miniature)
      const SlowEngine = Layer.effectContext(
        Effect.gen(function*() {
          yield* Deferred.succeed(building, undefined)
          yield* Deferred.await(gate)
          const engine = yield* ManualEngine.make
          return Context.make(ManualEngine.ManualEngine, engine).pipe(Context.add(CryptoEngine.CryptoEngine, engine))
        })
      )
      const layer = Server.layer.pipe(
        Layer.provide(SlowEngine),
        Layer.provide(ServiceConfig.layer({ port, shutdownGrace: Duration.zero }))
      )
      const scope = yield* Effect.scope
      const built = yield* Effect.forkChild(Layer.buildWithScope(layer, scope))
      yield* Deferred.await(building)
      assertTrue(yield* connectionRefused(host, port))

      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(built)
      strictEqual((yield* call(`http://${host}:${port}`, "GET", "/readyz")).status, 200)
    }).pipe(Effect.scoped))
})

describe("requests", () => {
  it.live("POST /jobs requires application/json: other or no content type answers 415, nothing reaches the engine", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      for (
        const headers of [{ "content-type": "text/plain" }, { "content-type": "application/x-www-form-urlencoded" }]
      ) {
        const reply = yield* send(url, "/jobs", { method: "POST", body: sha, headers })
        strictEqual(reply.status, 415)
        assertTyped(reply, "UnsupportedMediaType")
      }
      const none = yield* send(url, "/jobs", { method: "POST", body: new Blob([sha]) })
      strictEqual(none.status, 415)
      strictEqual(engine.pendingIds().length, 0)
      const json = yield* send(url, "/jobs", {
        method: "POST",
        body: sha,
        headers: { "content-type": "application/json; charset=utf-8" }
      })
      strictEqual(json.status, 202)
    }).pipe(Effect.provide(TestServer())))

  it.live("a known path with another method answers 405 with Allow; an unknown path 404", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        ["PUT", "/jobs", "POST"],
        ["GET", "/jobs", "POST"],
        ["PATCH", "/jobs/some-id", "GET, DELETE"],
        ["POST", "/stats", "GET"],
        ["DELETE", "/healthz", "GET"]
      ]
      for (const [method, path, allow] of cases) {
        const reply = yield* call(url, method, path)
        strictEqual(reply.status, 405, `${method} ${path}`)
        strictEqual(reply.headers.get("allow"), allow)
        assertTyped(reply, "MethodNotAllowed")
      }
      const unknown = yield* call(url, "PUT", "/nowhere")
      strictEqual(unknown.status, 404)
      assertTyped(unknown, "NotFound")
    }).pipe(Effect.provide(TestServer())))

  it.live("GET / points to the Swagger UI", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      const reply = yield* send(url, "/", {})
      strictEqual(reply.status, 302)
      strictEqual(reply.headers.get("location"), "/docs/ui")
      deepStrictEqual(reply.body, { docs: "/docs/ui", openapi: "/docs" })
    }).pipe(Effect.provide(TestServer())))

  it.live("/healthz is liveness, /readyz readiness: 503 NoJobs while the pool is full", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      deepStrictEqual((yield* call(url, "GET", "/readyz")).body, { status: "ready" })
      strictEqual((yield* call(url, "POST", "/jobs", JSON.parse(sha))).status, 202)
      const full = yield* call(url, "GET", "/readyz")
      strictEqual(full.status, 503)
      assertTyped(full, "NoJobs")
      strictEqual((yield* call(url, "GET", "/healthz")).status, 200)
    }).pipe(Effect.provide(TestServer({ poolMax: 1 }))))
})

describe("origins", () => {
  it.live("a request from another origin answers 403 CrossOrigin; the service's own origin is allowed", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const headers = { "content-type": "application/json", origin: "https://evil.example" }
      const reply = yield* send(url, "/jobs", { method: "POST", body: sha, headers })
      strictEqual(reply.status, 403)
      assertTyped(reply, "CrossOrigin")
      strictEqual(engine.pendingIds().length, 0)
      const own = yield* send(url, "/jobs", {
        method: "POST",
        body: sha,
        headers: { "content-type": "application/json", origin: url }
      })
      strictEqual(own.status, 202)
    }).pipe(Effect.provide(TestServer())))

  it.live("ALLOWED_ORIGINS: those origins may call it (CORS preflight and request), others still 403", () =>
    Effect.gen(function*() {
      const { url } = yield* env
      const app = "https://app.example"
      const preflight = yield* send(url, "/jobs", {
        method: "OPTIONS",
        headers: {
          origin: app,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type"
        }
      })
      assertTrue(preflight.status === 204 || preflight.status === 200)
      strictEqual(preflight.headers.get("access-control-allow-origin"), app)
      const reply = yield* send(url, "/jobs", {
        method: "POST",
        body: sha,
        headers: { "content-type": "application/json", origin: app }
      })
      strictEqual(reply.status, 202)
      strictEqual(reply.headers.get("access-control-allow-origin"), app)
      const other = yield* send(url, "/jobs", {
        method: "POST",
        body: sha,
        headers: { "content-type": "application/json", origin: "https://other.example" }
      })
      strictEqual(other.status, 403)
    }).pipe(Effect.provide(TestServer({ allowedOrigins: ["https://app.example"] }))))
})

describe("bearer token", () => {
  it.live("AUTH_TOKEN: /jobs and /metrics require it (401 with WWW-Authenticate), /healthz does not", () =>
    Effect.gen(function*() {
      const { engine, url } = yield* env
      const json = { "content-type": "application/json" }
      for (const authorization of [undefined, "Bearer wrong", "s3cret"]) {
        const headers = authorization === undefined ? json : { ...json, authorization }
        const reply = yield* send(url, "/jobs", { method: "POST", body: sha, headers })
        strictEqual(reply.status, 401, String(authorization))
        strictEqual(reply.headers.get("www-authenticate"), "Bearer")
        assertTyped(reply, "Unauthorized")
      }
      strictEqual(engine.pendingIds().length, 0)
      strictEqual((yield* send(url, "/metrics", {})).status, 401)
      strictEqual((yield* send(url, "/jobs/some-id", {})).status, 401)
      strictEqual((yield* send(url, "/healthz", {})).status, 200)
      const authorized = { authorization: "Bearer s3cret" }
      const accepted = yield* send(url, "/jobs", { method: "POST", body: sha, headers: { ...json, ...authorized } })
      strictEqual(accepted.status, 202)
      strictEqual((yield* send(url, `/jobs/${accepted.body.id}`, { headers: authorized })).status, 200)
      strictEqual((yield* send(url, "/metrics", { headers: authorized })).status, 200)
    }).pipe(Effect.provide(TestServer({ authToken: Option.some(Redacted.make("s3cret")) }))))
})

describe("node's limits, answered as typed JSON", () => {
  it.live("request line and headers over MAX_HEADER_BYTES: 431 HeadersTooLarge (a long URL too)", () =>
    Effect.gen(function*() {
      const { port } = yield* env
      const header = yield* raw(host, port, `GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4096)}\r\n\r\n`)
      assertRawTyped(header, 431, "HeadersTooLarge")
      const longUrl = yield* raw(host, port, `GET /jobs/${"a".repeat(4096)} HTTP/1.1\r\nHost: x\r\n\r\n`)
      assertRawTyped(longUrl, 431, "HeadersTooLarge")
    }).pipe(Effect.provide(TestServer({ maxHeaderBytes: 2048 }))))

  it.live("malformed HTTP: 400 MalformedHttp", () =>
    Effect.gen(function*() {
      const { port } = yield* env
      assertRawTyped(yield* raw(host, port, "NOT HTTP AT ALL\r\n\r\n"), 400, "MalformedHttp")
      assertRawTyped(yield* raw(host, port, "GET /stats HTTP/1.1\r\nBad Header\r\n\r\n"), 400, "MalformedHttp")
    }).pipe(Effect.provide(TestServer())))

  it.live("headers that stall: 408 RequestTimeout; a body that stalls: 408 RequestTimeout", () =>
    Effect.gen(function*() {
      const { port } = yield* env
      assertRawTyped(yield* raw(host, port, "GET /stats HTTP/1.1\r\nHost: x\r\n"), 408, "RequestTimeout")
      const head = "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
      assertRawTyped(yield* raw(host, port, `${head}{"op":`), 408, "RequestTimeout")
    }).pipe(
      Effect.provide(TestServer({ headersTimeout: Duration.millis(200), requestTimeout: Duration.millis(400) }))
    ))

  it.live("a chunked body over MAX_BODY_BYTES answers 413 and is never buffered; one within it is taken", () =>
    Effect.gen(function*() {
      const { engine, port, url } = yield* env
      const chunk = "x".repeat(1000)
      const body = `{"op":"sha256","data":"${chunk.repeat(3)}"}`
      const head =
        "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      // in four chunks: the limit is passed in the third, and the fourth is still read before the answer
      const chunks = [body.slice(0, 900), body.slice(900, 1800), body.slice(1800, 2700), body.slice(2700)]
      const encoded = chunks.map((part) => `${part.length.toString(16)}\r\n${part}\r\n`).join("")
      const reply = yield* raw(host, port, `${head}${encoded}0\r\n\r\n`)
      assertRawTyped(reply, 413, "PayloadTooLarge")
      strictEqual(engine.pendingIds().length, 0)
      // a body within the limit, chunked, is taken
      const small = `${sha.length.toString(16)}\r\n${sha}\r\n0\r\n\r\n`
      strictEqual(
        (yield* raw(host, port, `${head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")}${small}`)).status,
        202
      )
      // and within it, decoded as any body is: malformed JSON 400, an empty body 400, another content type 415
      const closing = head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
      assertRawTyped(yield* raw(host, port, `${closing}6\r\n{"op":\r\n0\r\n\r\n`), 400, "MalformedJson")
      assertRawTyped(yield* raw(host, port, `${closing}0\r\n\r\n`), 400, "MalformedJson")
      assertRawTyped(
        yield* raw(host, port, `${closing.replace("application/json", "text/plain")}${small}`),
        415,
        "UnsupportedMediaType"
      )
      strictEqual((yield* call(url, "GET", "/healthz")).status, 200)
    }).pipe(Effect.provide(TestServer({ maxBodyBytes: 2000 }))))
})

describe("bounds", () => {
  it.live("node's server is set up from the config: timeouts, idle keep-alive, connections", () =>
    Effect.gen(function*() {
      const server = yield* Server.NodeServer
      deepStrictEqual(
        [server.headersTimeout, server.requestTimeout, server.keepAliveTimeout, server.maxConnections],
        [1500, 2500, 700, Server.hardConnectionCap(9)]
      )
      // an idle keep-alive connection is closed by the server (raw answers once the server closed it)
      const { port } = yield* env
      strictEqual((yield* raw(host, port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")).status, 200)
    }).pipe(
      Effect.provide(TestServer({
        headersTimeout: Duration.millis(1500),
        requestTimeout: Duration.millis(2500),
        idleTimeout: Duration.millis(700),
        maxConnections: 9
      }))
    ))

  it.live("MAX_CONNECTIONS: a request on a connection beyond it answers 503 Overloaded; once one closes, it is served", () =>
    Effect.gen(function*() {
      const { port, url } = yield* env
      const first = yield* openConnection(host, port, "")
      yield* openConnection(host, port, "")
      // node counts a connection once it has accepted it: wait until one beyond the cap is over it
      const refused = yield* raw(host, port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n").pipe((effect) =>
        pollUntil(effect, (reply) => reply.status === 503)
      )
      strictEqual(refused.body.error.tag, "Overloaded")
      first.destroy()
      const served = yield* raw(host, port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").pipe((
        effect
      ) => pollUntil(effect, (reply) => reply.status !== undefined))
      strictEqual(served.status, 200)
      assertTrue(url.length > 0)
    }).pipe(Effect.scoped, Effect.provide(TestServer({ maxConnections: 2 }))))

  it.live("MAX_BUFFERED_BYTES: a stalled upload holds the bytes it sent; past the budget 503 Overloaded with Retry-After; freed when it goes", () =>
    Effect.gen(function*() {
      const { url, port } = yield* env
      const head = "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 990\r\n\r\n"
      const stalled = yield* openConnection(host, port, `${head}{"op":"sha256","data":"${"s".repeat(577)}`)
      const body = JSON.stringify({ op: "sha256", data: "b".repeat(480) })
      const overloaded = yield* call(url, "POST", "/jobs", body).pipe((effect) =>
        pollUntil(effect, (reply) => reply.status === 503)
      )
      assertTyped(overloaded, "Overloaded")
      strictEqual(overloaded.headers.get("retry-after"), "1")
      // a small body fits beside the stalled one; a request without a body reserves nothing
      strictEqual((yield* call(url, "POST", "/jobs", sha)).status, 202)
      strictEqual((yield* call(url, "DELETE", `/jobs/${crypto.randomUUID()}`)).status, 404)
      stalled.destroy()
      const accepted = yield* call(url, "POST", "/jobs", body).pipe((effect) =>
        pollUntil(effect, (reply) => reply.status === 202)
      )
      strictEqual(accepted.status, 202)
    }).pipe(Effect.scoped, Effect.provide(TestServer({ maxBufferedBytes: 1000 }))))
})
