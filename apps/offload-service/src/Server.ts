/**
 * The offload service: the {@link Api} served by `@effect/platform-node`,
 * with the {@link Jobs} behind it.
 *
 * **Details**
 *
 * {@link layer} needs a `CryptoEngine` and a `ServiceConfig`, and runs until
 * its scope closes. The port opens only once the jobs (in durable mode: their
 * database) are ready, so that no request waits on a port nobody serves.
 *
 * What protects the service, each from the `ServiceConfig`:
 *
 * - node's own limits: `MAX_CONNECTIONS` open connections (beyond it new
 *   connections are closed at once), `MAX_HEADER_BYTES` of request line and
 *   headers (431), `HEADERS_TIMEOUT` and `REQUEST_TIMEOUT` (408),
 *   `IDLE_TIMEOUT` for idle keep-alive connections. What node refuses before
 *   a request exists (timeouts, oversized or malformed requests) is answered
 *   in the API's JSON error format from node's `clientError` event;
 * - the body: `POST /jobs` requires `application/json` (415); `HttpApi`
 *   decodes it, within `MAX_BODY_BYTES` (the platform's max body size; a
 *   declared larger body answers 413 before it is read); the bodies of all
 *   requests in progress hold at most `MAX_BUFFERED_BYTES` (503 `Overloaded`).
 *   A chunked body (no declared length) is read before routing, so that one
 *   growing past the limit answers 413 too (see `readChunked`);
 * - the caller: requests from a browser page of another origin answer 403
 *   unless `ALLOWED_ORIGINS` lists it (then CORS answers its preflights);
 *   with `AUTH_TOKEN`, `/jobs` and `/metrics` require it as a bearer token.
 *
 * Metrics and traces go where the `ServiceConfig` says (see `Telemetry`):
 * `GET /metrics` answers Prometheus text when the `prometheus` exporter is
 * on, 404 `NotFound` otherwise. The exporters are built before everything
 * else and closed after it.
 *
 * Closing the layer (what SIGINT / SIGTERM do under `NodeRuntime.runMain`)
 * shuts down in this order, each step a finalizer of the layer that needs it:
 *
 * 1. stop taking jobs: `POST /jobs` and `/readyz` answer 503 `ShuttingDown`
 *    (the port stays open, so that requests get that answer rather than a
 *    refused connection, and clients can still read their jobs), and every
 *    response closes its connection;
 * 2. outstanding jobs get up to `SHUTDOWN_GRACE` to end; then each one left
 *    is cancelled: its engine request is dropped and its wait ctx closes,
 *    running its fd's cleanup; `?wait=true` requests answer with the job;
 * 3. stop listening, close idle connections, wait (at most
 *    {@link drainTimeout}) for the last responses, then close the remaining
 *    connections;
 * 4. close the job pool, then the exporters (the OTLP ones export a last
 *    time), then (outside this layer) the engine's threads.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import * as Api from "./Api.js"
import { CryptoEngine } from "./CryptoEngine.js"
import * as DurableJobs from "./DurableJobs.js"
import * as nodeServer from "./internal/nodeServer.js"
import * as requests from "./internal/requests.js"
import * as Jobs from "./Jobs.js"
import { ServiceConfig } from "./ServiceConfig.js"
import * as Telemetry from "./Telemetry.js"

/**
 * How long shutdown waits for in-flight responses before closing their connections.
 *
 * @since 0.1.0
 * @category constants
 */
export const drainTimeout: Duration.Duration = Duration.seconds(2)

/**
 * The node `http.Server` the service listens with.
 *
 * @since 0.1.0
 * @category tags
 */
export class NodeServer extends Context.Tag("@async-job/offload-service/NodeServer")<NodeServer, Http.Server>() {}

// ---------------------------------------------------------------------------
// responses

const setHeader = (name: string, value: string) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, name, value))
  )

/** A failure whose response also closes the connection (the client may still be sending). */
const failClosing = <E>(error: E) => Effect.zipRight(setHeader("connection", "close"), Effect.fail(error))

const payloadTooLarge = (limit: number) => new Api.PayloadTooLarge({ message: `the body exceeds ${limit} bytes` })

const malformed = (message: string) => new Api.MalformedJson({ message })

const respond = <A, I>(schema: Schema.Schema<A, I>, status: number) => (body: A) =>
  Effect.orDie(HttpServerResponse.schemaJson(schema)(body, { status }))

const issuePath = (path: ReadonlyArray<PropertyKey>) => path.map((key) => typeof key === "number" ? key : String(key))

// ---------------------------------------------------------------------------
// handlers

const noJobs = (retryAfterSeconds: number) =>
  Effect.zipRight(
    setHeader("retry-after", String(retryAfterSeconds)),
    Effect.fail(new Api.NoJobs({ message: "the job pool is full: retry after the Retry-After delay" }))
  )

const shuttingDown = failClosing(new Api.ShuttingDown({ message: "the service is shutting down" }))

const notFound = (error: Jobs.JobNotFoundError) => Effect.fail(new Api.NotFound({ message: error.message }))

const JobsHandlers = HttpApiBuilder.group(Api.Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const config = yield* ServiceConfig
    return handlers
      // two successes (202 and 200): the response is made here, each with its own schema and status
      .handle("submit", ({ payload, urlParams }) =>
        (urlParams.wait === "true"
          ? Effect.flatMap(jobs.run(payload), respond(Api.JobView, 200))
          : Effect.flatMap(jobs.submit(payload), (view) =>
            respond(Api.Accepted, 202)({ id: view.id, state: view.state })))
          .pipe(
            Effect.catchTags({
              NoJobsError: () =>
                noJobs(config.retryAfterSeconds),
              ShuttingDownError: () => shuttingDown
            })
          ))
      .handle("get", ({ path }) => Effect.catchTag(jobs.get(path.id), "JobNotFoundError", notFound))
      .handle("cancel", ({ path }) =>
        jobs.cancel(path.id).pipe(
          Effect.map((view) => ({ id: view.id, state: "cancelled" as const })),
          Effect.catchTags({
            JobNotFoundError: notFound,
            JobEndedError: (error) => Effect.fail(new Api.JobEnded({ message: error.message }))
          })
        ))
  }))

const OpsHandlers = HttpApiBuilder.group(Api.Api, "ops", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const engine = yield* CryptoEngine
    const config = yield* ServiceConfig
    const telemetry = yield* Telemetry.Telemetry
    const metricsOff = Effect.fail(
      new Api.NotFound({
        message: "metrics are not served as Prometheus text: METRICS_EXPORTER does not name prometheus"
      })
    )
    return handlers
      .handle("stats", () => jobs.stats)
      .handle("metrics", () => Option.getOrElse(telemetry.prometheus, () => metricsOff))
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.gen(function*() {
          if (!(yield* jobs.isAccepting)) return yield* shuttingDown
          const health = engine.unsafeHealth()
          if (health._tag === "Unhealthy") return yield* new Api.EngineUnavailable({ message: health.reason })
          const stats = yield* jobs.stats
          if (stats.running + stats.paused >= stats.maxSize) return yield* noJobs(config.retryAfterSeconds)
          return { status: "ready" as const }
        }))
  }))

// ---------------------------------------------------------------------------
// middleware

/** The same digest for equal tokens; compared in constant time. */
const digest = (token: string) => Crypto.createHash("sha256").update(token, "utf8").digest()

const AuthorizationLive = Layer.effect(
  Api.Authorization,
  Effect.map(ServiceConfig, (config) => {
    const expected = Option.map(config.authToken, (token) => digest(Redacted.value(token)))
    const refused = Effect.zipRight(
      setHeader("www-authenticate", "Bearer"),
      Effect.fail(new Api.Unauthorized({ message: "a valid bearer token is required" }))
    )
    return Api.Authorization.of({
      bearer: (token) =>
        Option.match(expected, {
          onNone: () => Effect.void,
          onSome: (expected) => Crypto.timingSafeEqual(expected, digest(Redacted.value(token))) ? Effect.void : refused
        })
    })
  })
)

const JsonBodyLive = Layer.effect(
  Api.JsonBody,
  Effect.map(ServiceConfig, (config) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const contentType = request.headers["content-type"]
      if (contentType === undefined || !requests.isJson(contentType)) {
        return yield* failClosing(
          new Api.UnsupportedMediaType({ message: `the body must be application/json, got ${contentType ?? "none"}` })
        )
      }
      const declared = request.headers["content-length"]
      const length = declared === undefined ? undefined : Number(declared)
      if (length === 0) return yield* Effect.fail(malformed("the body is empty"))
      if (length !== undefined && length > config.maxBodyBytes) {
        // read a body of up to 16 × the limit to its end, unkept, so that a client still sending gets the 413
        if (length <= config.maxBodyBytes * 16) yield* Effect.ignore(Stream.runDrain(request.stream))
        return yield* failClosing(payloadTooLarge(config.maxBodyBytes))
      }
      // the platform reads the body once (HttpApi decodes it next from the same text), within the body limit
      const text = yield* Effect.orDie(request.text)
      if (!requests.nestedAtMost(text, requests.maxDepth)) {
        const message = `the body nests arrays and objects deeper than ${requests.maxDepth}`
        return yield* new Api.ValidationError({ message, issues: [{ path: [], message }] })
      }
    }))
)

/** What the platform raises while decoding a body: a `RequestError` of reason `Decode` (a defect under HttpApi). */
const bodyError = (defect: unknown, limit: number) => {
  if (!HttpServerError.isServerError(defect) || defect._tag !== "RequestError") return undefined
  const cause = defect.cause
  if (cause instanceof SyntaxError) return malformed(`the body is not valid JSON: ${cause.message}`)
  if (cause instanceof Error && cause.message === "maxBytes exceeded") return payloadTooLarge(limit)
  return malformed("the body could not be read")
}

type Answered =
  | Api.MalformedJson
  | Api.ValidationError
  | Api.NotFound
  | Api.MethodNotAllowed
  | Api.PayloadTooLarge
  | Api.InternalError

/**
 * Puts what the router, `HttpApi` and the platform's body reader raise by
 * themselves into the API's error format: decoding failures of the path,
 * query and body (400, 413), unknown routes (404), known routes with another
 * method (405 with `Allow`) and defects (500, logged, no stack trace sent).
 */
const ErrorFormat = HttpApiBuilder.middleware(
  Api.Api,
  Effect.map(ServiceConfig, (config) => (app: HttpApp.Default) =>
    Effect.catchAllCause(app, (cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      const failure = Cause.failureOption(cause)
      if (Option.isNone(failure)) {
        const defect = Option.getOrUndefined(Cause.dieOption(cause))
        const answer = bodyError(defect, config.maxBodyBytes)
        if (answer !== undefined) return failClosing<Answered>(answer)
        return Effect.zipRight(
          Effect.logError("unexpected defect", cause),
          Effect.fail<Answered>(new Api.InternalError({ message: "internal error" }))
        )
      }
      const error: unknown = failure.value
      if (error instanceof HttpApiError.HttpApiDecodeError) {
        const issues = error.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message }))
        return Effect.fail<Answered>(new Api.ValidationError({ message: error.message, issues }))
      }
      if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
        const { method, url } = error.request
        const allowed = requests.allowedMethods(url)
        // the router also misses a path whose parameter is too long for it (over 100 characters): not found
        if (allowed === undefined || allowed.includes(method)) {
          return Effect.fail<Answered>(new Api.NotFound({ message: `no route ${method} ${url}` }))
        }
        return Effect.zipRight(
          setHeader("allow", allowed.join(", ")),
          Effect.fail<Answered>(
            new Api.MethodNotAllowed({ message: `${method} is not allowed here; allowed: ${allowed.join(", ")}` })
          )
        )
      }
      return Effect.failCause(cause)
    }))
)

/**
 * A chunked body, read to its end before routing: the bytes within `limit`
 * kept, the rest (up to 16 × the limit, so that a client still sending gets
 * its answer) read and dropped. Over the limit it answers 413; within it, the
 * app gets a request carrying the bytes read, which `HttpApi` decodes.
 *
 * Why not the platform's reader (`withMaxBodySize`, as for a declared
 * length): it destroys the request stream the moment the limit is passed, and
 * node then destroys the socket of a request destroyed before its end, so the
 * client would get a closed connection instead of a 413.
 */
const readChunked = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Effect.gen(function*() {
    const kept: Array<Uint8Array> = []
    let bytes = 0
    yield* Stream.runForEachWhile(request.stream, (chunk) =>
      Effect.sync(() => {
        bytes += chunk.length
        if (bytes <= limit) kept.push(chunk)
        return bytes <= limit * 16
      })).pipe(Effect.catchAll(() => failClosing(malformed("the body could not be read"))))
    if (bytes > limit) return yield* failClosing(payloadTooLarge(limit))
    const headers = new globalThis.Headers(request.headers)
    headers.delete("transfer-encoding")
    headers.set("content-length", String(bytes))
    const body = Buffer.concat(kept)
    return HttpServerRequest.fromWeb(
      new globalThis.Request(new URL(request.url, "http://localhost"), { method: request.method, headers, body })
    )
  })

/**
 * Before routing: refuses browser requests from other origins (403), bounds
 * the body bytes of the requests in progress (503 `Overloaded`), and sets the
 * platform's max body size for `HttpApi`'s decoding.
 *
 * A request with a body reserves its declared length (at most the body
 * limit; the limit for a chunked body) until it has been answered.
 */
const Guard = HttpApiBuilder.middleware(
  Api.Api,
  Effect.map(ServiceConfig, (config) => {
    let reserved = 0
    const allowedOrigins = new Set(config.allowedOrigins)
    const maxBodySize = Option.some(config.maxBodyBytes)
    return (app: HttpApp.Default) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const origin = request.headers["origin"]
        if (origin !== undefined && !allowedOrigins.has(origin) && origin !== `http://${request.headers["host"]}`) {
          return yield* failClosing(
            new Api.CrossOrigin({ message: `requests from ${origin} are not allowed` })
          )
        }
        if (!HttpMethod.hasBody(request.method)) return yield* app
        // a declared length, at most the limit; a chunked body may reach the limit; neither: no body
        const declared = Number(request.headers["content-length"] ?? Number.NaN)
        const chunked = request.headers["transfer-encoding"] !== undefined
        const size = Number.isNaN(declared)
          ? (chunked ? config.maxBodyBytes : 0)
          : Math.min(declared, config.maxBodyBytes)
        if (reserved + size > config.maxBufferedBytes) {
          return yield* Effect.zipRight(
            setHeader("retry-after", String(config.retryAfterSeconds)),
            failClosing(
              new Api.Overloaded({ message: "too many request bytes in progress: retry after the Retry-After delay" })
            )
          )
        }
        reserved += size
        const served = chunked && Number.isNaN(declared)
          ? Effect.flatMap(readChunked(request, config.maxBodyBytes), (read) =>
            Effect.provideService(app, HttpServerRequest.HttpServerRequest, read))
          : app
        return yield* served.pipe(
          HttpIncomingMessage.withMaxBodySize(maxBodySize),
          Effect.ensuring(Effect.sync(() => {
            reserved -= size
          }))
        )
      })
  })
)

/** Browsers' preflights for the configured origins; none configured, no CORS at all. */
const Cors = Layer.unwrapEffect(
  Effect.map(ServiceConfig, (config) =>
    config.allowedOrigins.length === 0
      ? Layer.empty
      : HttpApiBuilder.middlewareCors({
        allowedOrigins: config.allowedOrigins,
        allowedHeaders: ["content-type", "authorization"]
      }))
)

/** `GET /`: to the Swagger UI (with the links in the body, for curl). */
const Index = HttpApiBuilder.Router.use((router) =>
  router.get(
    "/",
    Effect.succeed(
      HttpServerResponse.unsafeJson({ docs: "/docs/ui", openapi: "/docs" }, {
        status: 302,
        headers: { location: "/docs/ui" }
      })
    )
  )
)

const NodeServerLive = Layer.effect(NodeServer, Effect.map(ServiceConfig, nodeServer.make))

// one Jobs service: DURABLE=sqlite:<file> or postgres://… selects the durable layer (see DurableJobs); unset, the
// in-memory one
const JobsLive = DurableJobs.layerFromEnv

/** Listens once the jobs are ready (it requires them), so the port opens only when requests can be served. */
const HttpServerLive = Layer.unwrapEffect(
  Effect.map(
    Effect.all([NodeServer, ServiceConfig, Jobs.Jobs]),
    ([server, config]) => NodeHttpServer.layer(() => server, { port: config.port, host: config.host })
  )
).pipe(Layer.provide(NodeServerLive), Layer.provide(JobsLive))

const ApiLive = HttpApiBuilder.api(Api.Api).pipe(
  Layer.provide([JobsHandlers, OpsHandlers]),
  Layer.provide([AuthorizationLive, JsonBodyLive])
)

/**
 * While shutting down, every response closes its connection, so that the
 * server can close soon. (A pre-response handler: the response is written
 * inside `app`, before a middleware could change it.)
 */
const closeWhenShuttingDown = (app: HttpApp.Default) =>
  Effect.flatMap(Jobs.Jobs, (jobs) =>
    Effect.zipRight(
      HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.map(
          jobs.isAccepting,
          (accepting) => accepting ? response : HttpServerResponse.setHeader(response, "connection", "close")
        )
      ),
      app
    ))

const ServeLive = HttpApiBuilder.serve(closeWhenShuttingDown).pipe(
  Layer.provide(Index),
  Layer.provide(HttpApiSwagger.layer({ path: "/docs/ui" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/docs" })),
  Layer.provide([ErrorFormat, Guard, Cors]),
  Layer.provide(ApiLive),
  Layer.provide([JobsLive, HttpServerLive])
)

/**
 * The URL a server listens on.
 *
 * @since 0.1.0
 * @category getters
 */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = Effect.map(
  HttpServer.HttpServer,
  (server) => {
    const address = server.address
    if (address._tag === "UnixAddress") return `http+unix://${address.path}`
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
    return `http://${host}:${address.port}`
  }
)

const closeServer = (server: Http.Server): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    // stops listening now; the callback runs once every connection has closed
    server.close(() => resume(Effect.void))
    server.closeIdleConnections()
  })

/** Acquired once everything else is up, so that its finalizer runs first. */
const Lifecycle = Layer.scopedDiscard(Effect.gen(function*() {
  const server = yield* NodeServer
  const jobs = yield* Jobs.Jobs
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      // still listening meanwhile: new jobs and /readyz answer 503 ShuttingDown, reads are served
      yield* Console.log("shutting down: no more jobs")
      const cancelled = yield* jobs.shutdown
      const { fdCleanups } = yield* jobs.housekeeping
      yield* Console.log(`cancelled ${cancelled} outstanding jobs; ${fdCleanups} wait fd cleanups ran in all`)
      yield* Effect.timeout(closeServer(server), drainTimeout).pipe(Effect.ignore)
      server.closeAllConnections()
    })
  )
  yield* Console.log(`async-job offload service listening on ${yield* url}`)
}))

/**
 * The whole service: HTTP server, API, jobs and pool. Requires the engine and
 * the configuration; see the module header for what closing it does.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  Jobs.Jobs | HttpServer.HttpServer | NodeServer,
  HttpServerError.ServeError,
  CryptoEngine | ServiceConfig
> = Lifecycle.pipe(
  Layer.provide(ServeLive),
  Layer.provideMerge(Layer.mergeAll(JobsLive, HttpServerLive, NodeServerLive)),
  // built first: its tracer (TRACES_EXPORTER=otlp) is then current for the server; closed last: the last export
  // sees every job
  Layer.provide(Telemetry.layer)
)
