/**
 * The offload service: the {@link Api} served by `@effect/platform-node`,
 * with the {@link Jobs} behind it.
 *
 * **Details**
 *
 * {@link layer} needs a `CryptoEngine` and a `ServiceConfig`, and runs until
 * its scope closes. Closing it (what SIGINT / SIGTERM do under
 * `NodeRuntime.runMain`) shuts down in this order, each step a finalizer of
 * the layer that needs it:
 *
 * 1. stop accepting: the listening socket closes, `POST /jobs` and
 *    `/healthz` answer 503 `ShuttingDown`, idle connections close;
 * 2. cancel every running or paused job: each engine request is dropped and
 *    each wait ctx closes, running its fd's cleanup; `?wait=true` requests
 *    answer with the cancelled job;
 * 3. wait (at most {@link drainTimeout}) for the last responses, then close
 *    the remaining connections;
 * 4. close the job pool, then (outside this layer) the engine's threads.
 *
 * @since 0.1.0
 */
import * as JobPool from "@async-job/core/JobPool"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Http from "node:http"
import * as Api from "./Api.js"
import { CryptoEngine } from "./CryptoEngine.js"
import * as DurableJobs from "./DurableJobs.js"
import * as Jobs from "./Jobs.js"
import * as Operation from "./Operation.js"
import * as Prometheus from "./Prometheus.js"
import { ServiceConfig } from "./ServiceConfig.js"

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
// request bodies

const setHeader = (name: string, value: string) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, name, value))
  )

const tooLarge = (limit: number) =>
  Effect.zipRight(
    // the client may still be sending: do not keep the connection for another request
    setHeader("connection", "close"),
    Effect.fail(new Api.PayloadTooLarge(Api.errorBody("PayloadTooLarge", `the body exceeds ${limit} bytes`)))
  )

/**
 * Reads the body, at most `limit` bytes. A larger body is read to its end
 * and discarded (so that the 413 reaches a client still sending), unless it
 * grows beyond `16 × limit`, where reading stops at once.
 */
const readBody = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Effect.flatMap(
    Effect.async<Buffer | undefined>((resume) => {
      const source = NodeHttpServerRequest.toIncomingMessage(request)
      const hardCap = limit * 16
      if (Number(source.headers["content-length"] ?? 0) > hardCap) return resume(Effect.succeed(undefined))
      const chunks: Array<Buffer> = []
      let size = 0
      const cleanup = () => {
        source.off("data", onData)
        source.off("end", onEnd)
        source.off("error", onError)
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size <= limit) chunks.push(chunk)
        else if (size > hardCap) onEnd()
        else chunks.length = 0
      }
      const onEnd = () => {
        cleanup()
        resume(Effect.succeed(size > limit ? undefined : Buffer.concat(chunks, size)))
      }
      const onError = (error: Error) => {
        cleanup()
        resume(Effect.die(error))
      }
      source.on("data", onData)
      source.once("end", onEnd)
      source.once("error", onError)
      return Effect.sync(cleanup)
    }),
    (body) => body === undefined ? tooLarge(limit) : Effect.succeed(body)
  )

const utf8 = new TextDecoder("utf-8", { fatal: true })

const malformed = (message: string) => new Api.BadRequest(Api.errorBody("MalformedJson", message))

const parseJson = (bytes: Buffer): Effect.Effect<unknown, Api.BadRequest> =>
  Effect.try({
    try: () => JSON.parse(utf8.decode(bytes)) as unknown,
    catch: (error) => malformed(`the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`)
  })

const issuePath = (path: ReadonlyArray<PropertyKey>) => path.map((key) => typeof key === "number" ? key : String(key))

/** A Schema failure as a 400 `ValidationError`, every issue listed. */
const validationError = (error: ParseResult.ParseError) =>
  new Api.BadRequest(
    Api.errorBody(
      "ValidationError",
      ParseResult.TreeFormatter.formatErrorSync(error),
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
        path: issuePath(issue.path),
        message: issue.message
      }))
    )
  )

const decodeRequest = (body: unknown) => Effect.mapError(Operation.decodeRequest(body), validationError)

const respond = <A, I>(schema: Schema.Schema<A, I>, status: number) => (body: A) =>
  Effect.orDie(HttpServerResponse.schemaJson(schema)(body, { status }))

// ---------------------------------------------------------------------------
// handlers

const noJobs = (retryAfterSeconds: number) =>
  Effect.zipRight(
    setHeader("retry-after", String(retryAfterSeconds)),
    Effect.fail(
      new Api.ServiceUnavailable(Api.errorBody("NoJobs", "the job pool is full: retry after the Retry-After delay"))
    )
  )

const shuttingDown = Effect.zipRight(
  setHeader("connection", "close"),
  Effect.fail(new Api.ServiceUnavailable(Api.errorBody("ShuttingDown", "the service is shutting down")))
)

const notFound = (error: Jobs.JobNotFoundError) =>
  Effect.fail(new Api.NotFound(Api.errorBody("NotFound", error.message)))

const JobsHandlers = HttpApiBuilder.group(Api.Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const config = yield* ServiceConfig
    return handlers
      // raw: the body is read here, to answer 413 and malformed JSON in the API's error format
      .handleRaw("submit", ({ request, urlParams }) =>
        Effect.gen(function*() {
          const body = yield* readBody(request, config.maxBodyBytes)
          const decoded = yield* decodeRequest(yield* parseJson(body))
          if (urlParams.wait === "true") return yield* Effect.flatMap(jobs.run(decoded), respond(Api.JobView, 200))
          const view = yield* jobs.submit(decoded)
          return yield* respond(Api.Accepted, 202)({ id: view.id, state: view.state })
        }).pipe(
          Effect.catchTags({
            NoJobsError: () => noJobs(config.retryAfterSeconds),
            ShuttingDownError: () => shuttingDown
          })
        ))
      .handle("get", ({ path }) => Effect.catchTag(jobs.get(path.id), "JobNotFoundError", notFound))
      .handle("cancel", ({ path }) =>
        jobs.cancel(path.id).pipe(
          Effect.map((view) => ({ id: view.id, state: "cancelled" as const })),
          Effect.catchTags({
            JobNotFoundError: notFound,
            JobEndedError: (error) => Effect.fail(new Api.Conflict(Api.errorBody("JobEnded", error.message)))
          })
        ))
  }))

const engineQueued = Metric.gauge("offload_engine_queued", { description: "Engine requests waiting for a worker" })
const engineInFlight = Metric.gauge("offload_engine_in_flight", { description: "Engine requests in a worker" })
const engineRequests = Metric.counter("offload_engine_requests_total", {
  description: "Engine requests ended, by outcome (succeeded, failed, cancelled)",
  incremental: true
})
const engineCrashes = Metric.counter("offload_engine_worker_crashes_total", {
  description: "Engine worker threads that died and were replaced",
  incremental: true
})

/** Copies the engine's counters into Effect metrics (counters by their increase since the last scrape). */
const engineMetrics = (engine: CryptoEngine) => {
  const seen = { succeeded: 0, failed: 0, cancelled: 0, workerCrashes: 0 }
  const outcome = {
    succeeded: Metric.tagged(engineRequests, "outcome", "succeeded"),
    failed: Metric.tagged(engineRequests, "outcome", "failed"),
    cancelled: Metric.tagged(engineRequests, "outcome", "cancelled")
  }
  return Effect.sync(() => {
    const stats = engine.unsafeStats()
    engineQueued.unsafeUpdate(stats.queued, [])
    engineInFlight.unsafeUpdate(stats.inFlight, [])
    for (const key of ["succeeded", "failed", "cancelled"] as const) {
      outcome[key].unsafeUpdate(stats[key] - seen[key], [])
      seen[key] = stats[key]
    }
    engineCrashes.unsafeUpdate(stats.workerCrashes - seen.workerCrashes, [])
    seen.workerCrashes = stats.workerCrashes
  })
}

const OpsHandlers = HttpApiBuilder.group(Api.Api, "ops", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const engine = yield* CryptoEngine
    const updateEngineMetrics = engineMetrics(engine)
    return handlers
      .handle("stats", () => jobs.stats)
      .handle("metrics", () => Effect.zipRight(updateEngineMetrics, Prometheus.scrape))
      .handle("healthz", () =>
        Effect.flatMap(jobs.isAccepting, (accepting) =>
          accepting ? Effect.succeed({ status: "ok" as const }) : shuttingDown))
  }))

/**
 * Puts what the router and HttpApi raise by themselves into the API's error
 * format: decoding failures of the path and query (400), unknown routes (404)
 * and defects (500, logged).
 */
const ErrorFormat = HttpApiBuilder.middleware(
  Api.Api,
  (app) =>
    Effect.catchAllCause(app, (cause): Effect.Effect<never, Api.BadRequest | Api.NotFound | Api.InternalError> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      const failure = Cause.failureOption(cause)
      if (Option.isNone(failure)) {
        return Effect.zipRight(
          Effect.logError("unexpected defect", cause),
          Effect.fail(new Api.InternalError(Api.errorBody("InternalError", "internal error")))
        )
      }
      const error: unknown = failure.value
      if (error instanceof HttpApiError.HttpApiDecodeError) {
        const issues = error.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message }))
        return Effect.fail(new Api.BadRequest(Api.errorBody("ValidationError", error.message, issues)))
      }
      if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
        const { method, url } = error.request
        return Effect.fail(new Api.NotFound(Api.errorBody("NotFound", `no route ${method} ${url}`)))
      }
      return Effect.failCause(cause)
    })
)

// ---------------------------------------------------------------------------
// layers

const NodeServerLive = Layer.sync(NodeServer, () => Http.createServer())

const HttpServerLive = Layer.unwrapEffect(
  Effect.map(
    Effect.all([NodeServer, ServiceConfig]),
    ([server, config]) => NodeHttpServer.layer(() => server, { port: config.port, host: config.host })
  )
).pipe(Layer.provide(NodeServerLive))

const PoolLive = Layer.unwrapEffect(
  Effect.map(ServiceConfig, (config) => JobPool.layer({ maxSize: config.poolMax, initSize: config.poolInit }))
).pipe(Layer.orDie) // ServiceConfig has validated the sizes

// DURABLE=sqlite:<file> swaps in the durable jobs (see DurableJobs); unset, the in-memory ones
const JobsLive = DurableJobs.layerFromEnv(Jobs.layer.pipe(Layer.provide(PoolLive)))

const ApiLive = HttpApiBuilder.api(Api.Api).pipe(Layer.provide([JobsHandlers, OpsHandlers]))

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
  Layer.provide(HttpApiSwagger.layer({ path: "/docs/ui" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/docs" })),
  Layer.provide(ErrorFormat),
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
      yield* Console.log("shutting down: no more requests")
      const closed = yield* Effect.fork(closeServer(server))
      const cancelled = yield* jobs.shutdown
      const { fdCleanups } = yield* jobs.housekeeping
      yield* Console.log(`cancelled ${cancelled} outstanding jobs; ${fdCleanups} wait fd cleanups ran in all`)
      yield* Effect.timeout(closed.await, drainTimeout).pipe(Effect.ignore)
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
  Jobs.Jobs | HttpServer.HttpServer,
  HttpServerError.ServeError,
  CryptoEngine | ServiceConfig
> = Lifecycle.pipe(
  Layer.provide(ServeLive),
  Layer.provideMerge(Layer.mergeAll(JobsLive, HttpServerLive, NodeServerLive))
)
