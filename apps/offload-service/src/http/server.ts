/**
 * The offload service's server: the {@link Api.Api} served by
 * `effect/http-api` on `@effect/platform-node`'s `NodeHttpServer`, with the
 * `Jobs` behind it; listening, connection caps, timeouts and the drain on
 * shutdown.
 *
 * {@link layer} needs a `CryptoEngine` and a `ServiceConfig`, and runs until
 * its scope closes. The port opens only once the jobs (in durable mode: their
 * database) are ready, so that no request waits on a port nobody serves.
 *
 * What protects the service, each from the `ServiceConfig`:
 *
 * - node's own limits: `MAX_HEADER_BYTES` of request line and headers (431),
 *   `HEADERS_TIMEOUT` and `REQUEST_TIMEOUT` (408: whatever a request sends,
 *   it ends within `REQUEST_TIMEOUT`), `IDLE_TIMEOUT` for idle keep-alive
 *   connections. What node refuses before a request exists is answered in the
 *   API's JSON error format from node's `clientError` event;
 * - the connection cap: `MAX_CONNECTIONS` connections are served; one beyond
 *   it is still accepted (up to {@link hardConnectionCap}, past which node
 *   closes it at once) and answered 503 `Overloaded` with `Retry-After`, then
 *   closed; probes on it (`/healthz`, `/readyz`) are answered within a budget
 *   of their own (`traffic.ts`), and it is closed if it sends nothing for 2 s;
 * - the middleware (`middleware.ts`): host, origin, bearer token;
 * - the body of `POST /jobs` (`handlers.ts`): content type, size, buffered
 *   bytes, UTF-8, depth, Schema.
 *
 * Closing the layer (what SIGINT / SIGTERM do under `NodeRuntime.runMain`)
 * shuts down in this order:
 *
 * 1. stop listening at once: the port closes (a supervisor that sees the
 *    process, or `pnpm`, end sees the port closed), idle connections close;
 *    on the open ones `POST /jobs` and `/readyz` answer 503 `ShuttingDown`,
 *    jobs can still be read, and every response closes its connection;
 * 2. outstanding jobs get up to `SHUTDOWN_GRACE` to end; then each one left
 *    is cancelled, one after another, the event loop served in between: its
 *    engine request is dropped and its wait ctx closes, running its fd's
 *    cleanup; `?wait=true` requests answer with the job;
 * 3. wait (at most {@link drainTimeout}) for the last responses, then close
 *    the remaining connections;
 * 4. close the job pool, then the exporters (the OTLP ones export a last
 *    time), then (outside this layer) the engine's threads.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiSwagger from "effect/http-api/HttpApiSwagger"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import type * as Net from "node:net"
import { ServiceConfig } from "../config.js"
import { type CryptoEngine } from "../engine/CryptoEngine.js"
import * as Jobs from "../jobs/Jobs.js"
import * as Telemetry from "../telemetry.js"
import * as Api from "./api.js"
import { Index, JobsHandlers, OpsHandlers } from "./handlers.js"
import { AuthorizationLive, Cors, Guard, RequestErrorsLive } from "./middleware.js"
import * as traffic from "./traffic.js"

/** How long shutdown waits for in-flight responses before closing their connections. */
export const drainTimeout: Duration.Duration = Duration.seconds(2)

/** Connections node accepts at all: `MAX_CONNECTIONS` served, the rest up to this answered 503 and closed. */
export const hardConnectionCap = (maxConnections: number): number => Math.max(16 * maxConnections, 4096)

/** The node `http.Server` the service listens with. */
export const NodeServer: Context.Service<NodeServer, Http.Server> = Context.Service<NodeServer, Http.Server>(
  "@async-job/offload-service/NodeServer"
)

export interface NodeServer {
  readonly _: unique symbol
}

// ---------------------------------------------------------------------------
// node's server

/** A whole HTTP response, the error in the API's format, for node's `clientError` (no response object there). */
const rawResponse = <E, I>(status: number, reason: string, wire: Schema.Codec<E, I>, error: E) => {
  const json = JSON.stringify(Schema.encodeSync(wire)(error))
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${
    Buffer.byteLength(json)
  }\r\nconnection: close\r\n\r\n${json}`
}

/** What node refuses before (or instead of) a request, in the API's error format. */
const clientErrorResponse = (error: NodeJS.ErrnoException, config: ServiceConfig) => {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return rawResponse(
        408,
        "Request Timeout",
        Api.Wire.RequestTimeout,
        new Api.RequestTimeout({ message: "the request did not arrive in time" })
      )
    case "HPE_HEADER_OVERFLOW":
      return rawResponse(
        431,
        "Request Header Fields Too Large",
        Api.Wire.HeadersTooLarge,
        new Api.HeadersTooLarge({ message: `the request line and headers exceed ${config.maxHeaderBytes} bytes` })
      )
    default:
      return rawResponse(
        400,
        "Bad Request",
        Api.Wire.MalformedHttp,
        new Api.MalformedHttp({ message: "the request is not valid HTTP/1.1" })
      )
  }
}

/** node's `http.Server` with the configured limits and timeouts, counting its connections in `onConnection`. */
const makeNodeServer = (config: ServiceConfig, onConnection: (socket: Net.Socket) => void): Http.Server => {
  const headersTimeout = Duration.toMillis(config.headersTimeout)
  const requestTimeout = Duration.toMillis(config.requestTimeout)
  const server = Http.createServer({
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: Duration.toMillis(config.idleTimeout),
    // how often node looks for requests past their timeouts
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4)))
  })
  server.maxConnections = hardConnectionCap(config.maxConnections)
  server.on("connection", onConnection)
  // the response in progress on each connection, to know whether a raw answer may still be written
  const responses = new WeakMap<Net.Socket, Http.ServerResponse>()
  server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    responses.set(request.socket, response)
  })
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Net.Socket) => {
    const response = responses.get(socket)
    if (error.code === "ECONNRESET" || !socket.writable || response?.headersSent === true) {
      socket.destroy()
      return
    }
    socket.end(clientErrorResponse(error, config), () => socket.destroy())
  })
  return server
}

const NodeServerLive = Layer.effect(
  NodeServer,
  Effect.map(
    Effect.all([ServiceConfig, traffic.Traffic]),
    ([config, counted]) => makeNodeServer(config, counted.onConnection)
  )
)

// ---------------------------------------------------------------------------
// layers

const JobsLive = Jobs.layerFromConfig

/** Listens once the jobs are ready (it requires them), so the port opens only when requests can be served. */
const HttpServerLive = Layer.unwrap(
  Effect.map(
    Effect.all([NodeServer, ServiceConfig, Jobs.Jobs]),
    ([server, config]) =>
      NodeHttpServer.layer(() => server, { port: config.port, host: config.host, disablePreemptiveShutdown: true })
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
).pipe(Layer.provide([JobsLive, HttpServerLive, NodeServerLive]))

/** The URL a server listens on. */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = HttpServer.addressFormattedWith(Effect.succeed)

/** Stops listening now (the port closes, idle connections close); succeeds once every connection has closed. */
const stopListening = (server: Http.Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    server.close(() => resume(Effect.void))
    server.closeIdleConnections()
  })

/** Acquired once everything else is up, so that its finalizer runs first. */
const Lifecycle = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* NodeServer
  const jobs = yield* Jobs.Jobs
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* Console.log("shutting down: no more jobs")
      // the port closes first: whoever sees the process end sees it closed; open connections are still served
      const closed = yield* Effect.forkDetach(stopListening(server))
      const cancelled = yield* jobs.shutdown
      const { fdCleanups } = yield* jobs.housekeeping
      yield* Console.log(`cancelled ${cancelled} outstanding jobs; ${fdCleanups} wait fd cleanups ran in all`)
      server.closeIdleConnections()
      yield* Effect.timeout(Fiber.await(closed), drainTimeout).pipe(Effect.ignore)
      server.closeAllConnections()
    })
  )
  yield* Console.log(`async-job offload service listening on ${yield* url}`)
}))

/**
 * No span is made for a request or a job unless a tracer is exported
 * (`TRACES_EXPORTER=otlp`): effect's own tracer would make them for nobody.
 */
const TracingLive = Layer.unwrap(
  Effect.map(
    ServiceConfig,
    (config) => config.tracesExporter === "none" ? Layer.succeed(References.TracerEnabled, false) : Layer.empty
  )
)

/**
 * The whole service: HTTP server, API, jobs and pool. Requires the engine and
 * the configuration; see the module header for what closing it does.
 */
export const layer: Layer.Layer<
  Jobs.Jobs | HttpServer.HttpServer | NodeServer | traffic.Traffic,
  HttpServerError.ServeError | Jobs.StartupError,
  CryptoEngine | ServiceConfig
> = Lifecycle.pipe(
  Layer.provide(ServeLive),
  Layer.provideMerge(Layer.mergeAll(JobsLive, HttpServerLive, NodeServerLive)),
  // built first: its tracer (TRACES_EXPORTER=otlp) is then current for the server; closed last: the last export
  // sees every job
  Layer.provide(Telemetry.layer),
  Layer.provideMerge(traffic.layer),
  Layer.provide(TracingLive)
)
