/**
 * The offload service: the {@link Api} served by `effect/http-api` on
 * `@effect/platform-node`'s `NodeHttpServer`, with the {@link Jobs} behind it.
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
 * - the body: `POST /jobs` requires `application/json` (415); its handler
 *   reads it within `MAX_BODY_BYTES` (the platform's max body size; a
 *   declared larger body answers 413 before it is kept; a chunked one answers
 *   413 once it passes the limit, its rest read and dropped), checks how deep
 *   it nests, parses and decodes it; the bodies of all requests in progress
 *   hold at most `MAX_BUFFERED_BYTES` (503 `Overloaded`);
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
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as ByteSize from "effect/ByteSize"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as HttpApiSwagger from "effect/http-api/HttpApiSwagger"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpMethod from "effect/http/HttpMethod"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import * as Api from "./api.js"
import { CryptoEngine } from "../engine/CryptoEngine.js"
import * as nodeServer from "./nodeServer.js"
import * as requests from "./requests.js"
import * as Jobs from "../jobs/Jobs.js"
import * as Operation from "../engine/Operation.js"
import { ServiceConfig } from "../config.js"
import * as Telemetry from "../telemetry.js"

/**
 * How long shutdown waits for in-flight responses before closing their connections.
 */
export const drainTimeout: Duration.Duration = Duration.seconds(2)

/**
 * The node `http.Server` the service listens with.
 */
export const NodeServer: Context.Service<NodeServer, Http.Server> = Context.Service<NodeServer, Http.Server>(
  "@async-job/offload-service/NodeServer"
)

export interface NodeServer {
  readonly _: unique symbol
}

// ---------------------------------------------------------------------------
// responses

/** Sets a header on the response to the current request, whatever it will be (an error's included). */
const setHeader = (name: string, value: string) =>
  HttpEffect.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, name, value))
  )

/** A failure whose response also closes the connection (the client may still be sending). */
const failClosing = <E>(error: E) => Effect.andThen(setHeader("connection", "close"), Effect.fail(error))

/** An error answered outside `HttpApi`, closing the connection. */
const closing = (error: Api.ApiError) => HttpServerResponse.setHeader(Api.toResponse(error), "connection", "close")

const payloadTooLarge = (limit: number) => new Api.PayloadTooLarge({ message: `the body exceeds ${limit} bytes` })

const malformed = (message: string) => new Api.MalformedJson({ message })

// ---------------------------------------------------------------------------
// the body of POST /jobs

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** One issue per problem Schema found, each with its path. */
const issuesOf = (issue: SchemaIssue.Issue): Array<typeof Api.Issue.Type> =>
  formatIssues(issue).issues.map((entry) => ({
    path: (entry.path ?? []).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment
      return typeof key === "number" ? key : String(key)
    }),
    message: entry.message
  }))

const validationError = (issue: SchemaIssue.Issue) => {
  const issues = issuesOf(issue)
  const message = issues.map((entry) =>
    entry.path.length === 0 ? entry.message : `${entry.message} at ${entry.path.join(".")}`
  ).join("; ")
  return new Api.ValidationError({ message, issues })
}

/** Why the platform could not read a body: over the limit, or not read at all. */
const readFailure = (
  error: HttpServerError.HttpServerError,
  limit: number
): Effect.Effect<never, Api.PayloadTooLarge | Api.MalformedJson, HttpServerRequest.HttpServerRequest> =>
  error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge"
    ? failClosing(payloadTooLarge(limit))
    : failClosing(malformed("the body could not be read"))

/**
 * The body of `POST /jobs` as an operation request: a JSON content type
 * (415), a body within the limit (413) and not empty (400 `MalformedJson`),
 * JSON nested at most 32 deep (400 `ValidationError`), JSON (400
 * `MalformedJson`), and a valid request (400 `ValidationError`, one issue per
 * problem).
 */
const readRequest = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Effect.gen(function*() {
    const contentType = request.headers["content-type"]
    if (contentType === undefined || !requests.isJson(contentType)) {
      return yield* failClosing(
        new Api.UnsupportedMediaType({ message: `the body must be application/json, got ${contentType ?? "none"}` })
      )
    }
    const declared = request.headers["content-length"]
    const length = declared === undefined ? undefined : Number(declared)
    if (length === 0) return yield* Effect.fail(malformed("the body is empty"))
    if (length !== undefined && length > limit) {
      // read a body of up to 16 × the limit to its end, unkept, so that a client still sending gets the 413
      if (length <= limit * 16) yield* Effect.ignore(Stream.runDrain(request.stream))
      return yield* failClosing(payloadTooLarge(limit))
    }
    // the platform reads the body within the limit; a chunked one growing past it fails, its rest read and dropped
    const text = yield* request.text.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
      Effect.catch((error) => readFailure(error, limit))
    )
    if (text === "") return yield* Effect.fail(malformed("the body is empty"))
    if (!requests.nestedAtMost(text, requests.maxDepth)) {
      const message = `the body nests arrays and objects deeper than ${requests.maxDepth}`
      return yield* new Api.ValidationError({ message, issues: [{ path: [], message }] })
    }
    const json = Result.try({ try: (): unknown => JSON.parse(text), catch: (error) => error })
    if (Result.isFailure(json)) {
      const reason = json.failure instanceof Error ? json.failure.message : String(json.failure)
      return yield* Effect.fail(malformed(`the body is not valid JSON: ${reason}`))
    }
    const decoded = Operation.decodeRequestResult(json.success)
    if (Result.isFailure(decoded)) return yield* Effect.fail(validationError(decoded.failure.issue))
    return decoded.success
  })

// ---------------------------------------------------------------------------
// handlers

const noJobs = (retryAfterSeconds: number) =>
  Effect.andThen(
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
      // the body is read and decoded here (see `readRequest`); two successes (202 and 200), each with its status
      .handleRaw("submit", ({ query, request }) =>
        Effect.flatMap(readRequest(request, config.maxBodyBytes), (payload) =>
          (query.wait === "true"
            ? Effect.map(jobs.run(payload), (view) =>
              HttpServerResponse.jsonUnsafe(view))
            : Effect.map(
              jobs.submit(payload),
              (view) => HttpServerResponse.jsonUnsafe({ id: view.id, state: view.state }, { status: 202 })
            ))
            .pipe(
              Effect.catchTags({
                NoJobsError: () => noJobs(config.retryAfterSeconds),
                ShuttingDownError: () => shuttingDown
              })
            )))
      .handle("get", ({ params }) =>
        Effect.catchTag(jobs.get(params.id), "JobNotFoundError", notFound))
      .handle("cancel", ({ params }) =>
        jobs.cancel(params.id).pipe(
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
          const health = engine.healthUnsafe()
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
    const refused = Effect.andThen(
      setHeader("www-authenticate", "Bearer"),
      Effect.fail(new Api.Unauthorized({ message: "a valid bearer token is required" }))
    )
    return {
      bearer: (httpEffect, { credential }) =>
        Option.match(expected, {
          onNone: () => httpEffect,
          onSome: (expected) =>
            Crypto.timingSafeEqual(expected, digest(Redacted.value(credential))) ? httpEffect : refused
        })
    }
  })
)

/** A path or query the endpoint's Schema refuses: 400 `ValidationError`, one issue per problem found. */
const RequestErrorsLive = HttpApiMiddleware.layerSchemaErrorTransform(
  Api.RequestErrors,
  (error) => Effect.fail(validationError(error.cause.issue))
)

/** The methods allowed on the path of a request no route took: 405 with `Allow` when there are some, 404 if not. */
const routeNotFound = (request: HttpServerRequest.HttpServerRequest) => {
  const { method, url } = request
  const allowed = requests.allowedMethods(url)
  // the router also misses a path whose parameter is too long for it (over 100 characters): not found
  if (allowed === undefined || allowed.includes(method)) {
    return Api.toResponse(new Api.NotFound({ message: `no route ${method} ${url}` }))
  }
  return HttpServerResponse.setHeader(
    Api.toResponse(
      new Api.MethodNotAllowed({ message: `${method} is not allowed here; allowed: ${allowed.join(", ")}` })
    ),
    "allow",
    allowed.join(", ")
  )
}

const isRouteNotFound = (error: unknown) =>
  HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"

/**
 * Around every route: refuses browser requests from other origins (403),
 * bounds the body bytes of the requests in progress (503 `Overloaded`),
 * answers what the router and the handlers leave unanswered in the API's
 * error format (no route: 404, or 405 with `Allow`; a defect: 500, logged, no
 * stack trace sent), and, while shutting down, closes every connection after
 * its response so that the server can close soon.
 *
 * A request with a body reserves its declared length (at most the body
 * limit; the limit for a chunked body) until it has been answered.
 */
const Guard = HttpRouter.middleware(
  Effect.gen(function*() {
    const config = yield* ServiceConfig
    const jobs = yield* Jobs.Jobs
    let reserved = 0
    const allowedOrigins = new Set(config.allowedOrigins)
    const overloaded = HttpServerResponse.setHeader(
      closing(new Api.Overloaded({ message: "too many request bytes in progress: retry after the Retry-After delay" })),
      "retry-after",
      String(config.retryAfterSeconds)
    )
    const answerCause = (request: HttpServerRequest.HttpServerRequest) => (cause: Cause.Cause<unknown>) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      const failure = Cause.findErrorOption(cause)
      if (Option.isSome(failure) && isRouteNotFound(failure.value)) return Effect.succeed(routeNotFound(request))
      return Effect.as(
        Effect.logError("unexpected failure", cause),
        Api.toResponse(new Api.InternalError({ message: "internal error" }))
      )
    }
    const closeWhenShuttingDown = (response: HttpServerResponse.HttpServerResponse) =>
      Effect.map(
        jobs.isAccepting,
        (accepting) => accepting ? response : HttpServerResponse.setHeader(response, "connection", "close")
      )
    return (app) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const origin = request.headers["origin"]
        if (origin !== undefined && !allowedOrigins.has(origin) && origin !== `http://${request.headers["host"]}`) {
          return Effect.succeed(closing(new Api.CrossOrigin({ message: `requests from ${origin} are not allowed` })))
        }
        const served = Effect.catchCause(app, answerCause(request))
        if (!HttpMethod.hasBody(request.method)) return Effect.flatMap(served, closeWhenShuttingDown)
        // a declared length, at most the limit; a chunked body may reach the limit; neither: no body
        const declared = Number(request.headers["content-length"] ?? Number.NaN)
        const chunked = request.headers["transfer-encoding"] !== undefined
        const size = Number.isNaN(declared)
          ? (chunked ? config.maxBodyBytes : 0)
          : Math.min(declared, config.maxBodyBytes)
        if (reserved + size > config.maxBufferedBytes) return Effect.succeed(overloaded)
        reserved += size
        return served.pipe(
          Effect.flatMap(closeWhenShuttingDown),
          Effect.ensuring(Effect.sync(() => {
            reserved -= size
          }))
        )
      })
  }),
  { global: true }
)

/** Browsers' preflights for the configured origins; none configured, no CORS at all. */
const Cors = Layer.unwrap(
  Effect.map(ServiceConfig, (config) =>
    config.allowedOrigins.length === 0
      ? Layer.empty
      : HttpRouter.cors({
        allowedOrigins: config.allowedOrigins,
        allowedHeaders: ["content-type", "authorization"]
      }))
)

/** `GET /`: to the Swagger UI (with the links in the body, for curl). */
const Index = HttpRouter.add(
  "GET",
  "/",
  HttpServerResponse.jsonUnsafe({ docs: "/docs/ui", openapi: "/docs" }, {
    status: 302,
    headers: { location: "/docs/ui" }
  })
)

const NodeServerLive = Layer.effect(NodeServer, Effect.map(ServiceConfig, nodeServer.make))

// one Jobs service: DURABLE=sqlite:<file> or postgres://… selects the durable layer (see DurableJobs); unset, the
// in-memory one
const JobsLive = Jobs.layerFromEnv

/** Listens once the jobs are ready (it requires them), so the port opens only when requests can be served. */
const HttpServerLive = Layer.unwrap(
  Effect.map(
    Effect.all([NodeServer, ServiceConfig, Jobs.Jobs]),
    ([server, config]) => NodeHttpServer.layer(() => server, { port: config.port, host: config.host })
  )
).pipe(Layer.provide(NodeServerLive), Layer.provide(JobsLive))

const ApiLive = HttpApiBuilder.layer(Api.Api, { openapiPath: "/docs" }).pipe(
  Layer.provide([JobsHandlers, OpsHandlers]),
  Layer.provide([AuthorizationLive, RequestErrorsLive])
)

const ServeLive = HttpRouter.serve(
  Layer.mergeAll(ApiLive, Index, HttpApiSwagger.layer(Api.Api, { path: "/docs/ui" }), Guard, Cors),
  // the service prints its own line once it listens, and logs no line per request
  { disableLogger: true, disableListenLog: true }
).pipe(Layer.provide([JobsLive, HttpServerLive]))

/**
 * The URL a server listens on.
 */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = HttpServer.addressFormattedWith(Effect.succeed)

const closeServer = (server: Http.Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    // stops listening now; the callback runs once every connection has closed
    server.close(() => resume(Effect.void))
    server.closeIdleConnections()
  })

/** Acquired once everything else is up, so that its finalizer runs first. */
const Lifecycle = Layer.effectDiscard(Effect.gen(function*() {
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
