/**
 * What stands between a request and its handler, each a platform middleware:
 *
 * - {@link Guard} (router-wide, every route): connections beyond
 *   `MAX_CONNECTIONS` answer 503 `Overloaded` (probes within their own budget
 *   are answered), the `Host` must name this service (421
 *   `MisdirectedRequest`), a browser page of another origin is refused (403
 *   `CrossOrigin`), what the router and the handlers leave unanswered gets
 *   the API's error format (404, 405 with `Allow`, 500 for a defect, logged
 *   with its cause), and while shutting down every response closes its
 *   connection;
 * - {@link Cors}: the platform's CORS middleware, answering preflights for
 *   `ALLOWED_ORIGINS` (none configured: no origin is allowed);
 * - {@link AuthorizationLive}: the bearer token of `/jobs` and `/metrics`,
 *   compared in constant time, checked before anything is read of a body;
 * - {@link RequestErrorsLive}: a path or query the endpoint's Schema refuses
 *   is a 400 `ValidationError`, its messages bounded.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Crypto from "node:crypto"
import type * as Net from "node:net"
import { ServiceConfig } from "../config.js"
import { Jobs } from "../jobs/Jobs.js"
import * as Api from "./api.js"
import * as requests from "./requests.js"
import { Traffic } from "./traffic.js"

// ---------------------------------------------------------------------------
// responses

/** Sets a header on the response to the current request, whatever it will be (an error's included). */
export const setHeader = (name: string, value: string) =>
  HttpEffect.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, name, value))
  )

/** A failure whose response also closes the connection (the client may still be sending). */
export const failClosing = <E>(error: E) => Effect.andThen(setHeader("connection", "close"), Effect.fail(error))

/** An error answered outside `HttpApi`, closing the connection. */
export const closing = (error: Api.ApiError) =>
  HttpServerResponse.setHeader(Api.toResponse(error), "connection", "close")

/** A 503 with `Retry-After`, closing the connection. */
export const retryLater = (error: Api.ApiError, retryAfterSeconds: number) =>
  HttpServerResponse.setHeader(closing(error), "retry-after", String(retryAfterSeconds))

// ---------------------------------------------------------------------------
// validation errors, bounded

/** The longest message an error body carries: no input is echoed past a short prefix. */
export const maxMessageLength = 200
/** The most issues a validation error lists. */
export const maxIssues = 16

/** A message cut to {@link maxMessageLength} characters. */
export const bounded = (message: string): string =>
  message.length <= maxMessageLength ? message : `${message.slice(0, maxMessageLength - 1)}…`

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** One issue per problem Schema found, each with its path, at most {@link maxIssues}, each message bounded. */
const issuesOf = (issue: SchemaIssue.Issue): Array<typeof Api.Issue.Type> =>
  formatIssues(issue).issues.slice(0, maxIssues).map((entry) => ({
    path: (entry.path ?? []).slice(0, 8).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment
      return typeof key === "number" ? key : bounded(String(key))
    }),
    message: bounded(entry.message)
  }))

export const validationError = (issue: SchemaIssue.Issue) => {
  const issues = issuesOf(issue)
  const message = issues.map((entry) =>
    entry.path.length === 0 ? entry.message : `${entry.message} at ${entry.path.join(".")}`
  ).join("; ")
  return new Api.ValidationError({ message: bounded(message), issues })
}

/** A path or query the endpoint's Schema refuses: 400 `ValidationError`, one issue per problem found. */
export const RequestErrorsLive = HttpApiMiddleware.layerSchemaErrorTransform(
  Api.RequestErrors,
  (error) => Effect.fail(validationError(error.cause.issue))
)

// ---------------------------------------------------------------------------
// the bearer token

/** The same digest for equal tokens; compared in constant time. */
const digest = (token: string) => Crypto.createHash("sha256").update(token, "utf8").digest()

export const AuthorizationLive = Layer.effect(
  Api.Authorization,
  Effect.map(ServiceConfig, (config) => {
    const expected = Option.map(config.authToken, (token) => digest(Redacted.value(token)))
    // the body of a refused request is never read: the connection closes with the answer
    const refused = Effect.andThen(
      Effect.andThen(setHeader("www-authenticate", "Bearer"), setHeader("connection", "close")),
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

// ---------------------------------------------------------------------------
// hosts and origins

const loopbackHosts = ["localhost", "127.0.0.1", "::1"]

/** The host name of a `Host` header, lowercased, without its port (`[::1]:80` is `::1`). */
export const hostName = (host: string): string => {
  const value = host.trim().toLowerCase()
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]") === -1 ? undefined : value.indexOf("]"))
  const colon = value.indexOf(":")
  return colon === -1 ? value : value.slice(0, colon)
}

/** The host names a request may name: the loopback names, `HOST` unless a wildcard, and `ALLOWED_HOSTS`. */
export const allowedHosts = (config: ServiceConfig): ReadonlySet<string> => {
  const hosts = new Set([...loopbackHosts, ...config.allowedHosts.map(hostName)])
  const bound = hostName(config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host)
  if (bound !== "0.0.0.0" && bound !== "::") hosts.add(bound)
  return hosts
}

const isProbe = (url: string) => url === "/healthz" || url === "/readyz"

// ---------------------------------------------------------------------------
// around every route

const isRouteNotFound = (error: unknown) =>
  HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"

/** The methods allowed on the path of a request no route took: 405 with `Allow` when there are some, 404 if not. */
const routeNotFound = (request: HttpServerRequest.HttpServerRequest) => {
  const { method, url } = request
  const allowed = requests.allowedMethods(url)
  // the router also misses a path whose parameter is too long for it (over 100 characters): not found
  if (allowed === undefined || allowed.includes(method)) {
    return Api.toResponse(new Api.NotFound({ message: bounded(`no route ${method} ${url}`) }))
  }
  return HttpServerResponse.setHeader(
    Api.toResponse(
      new Api.MethodNotAllowed({ message: `${method} is not allowed here; allowed: ${allowed.join(", ")}` })
    ),
    "allow",
    allowed.join(", ")
  )
}

/**
 * Around every route, in this order: the connection cap, the host, the
 * origin, then the route; what the route leaves unanswered gets the API's
 * error format; while shutting down, every response closes its connection.
 */
export const Guard = HttpRouter.middleware(
  Effect.gen(function*() {
    const config = yield* ServiceConfig
    const jobs = yield* Jobs
    const traffic = yield* Traffic
    const hosts = allowedHosts(config)
    const origins = new Set(config.allowedOrigins)
    const overloaded = retryLater(
      new Api.Overloaded({
        message: `more than ${config.maxConnections} connections are open: retry after the Retry-After delay`
      }),
      config.retryAfterSeconds
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
        const probe = isProbe(request.url)
        const socket: Net.Socket = NodeHttpServerRequest.toIncomingMessage(request).socket as Net.Socket
        if (traffic.isOverCap(socket)) {
          // beyond the cap: an answer, not a reset; probes within their own small budget are served
          if (!probe || !traffic.takeProbe()) return Effect.succeed(overloaded)
          return app.pipe(
            Effect.catchCause(answerCause(request)),
            Effect.map((response) => HttpServerResponse.setHeader(response, "connection", "close")),
            Effect.ensuring(Effect.sync(traffic.releaseProbe))
          )
        }
        if (!probe) {
          const host = request.headers["host"]
          if (host === undefined || !hosts.has(hostName(host))) {
            return Effect.succeed(closing(
              new Api.MisdirectedRequest({
                message: bounded(`this service does not answer for the host ${host ?? "(none)"}`)
              })
            ))
          }
          const origin = request.headers["origin"]
          if (
            origin !== undefined && !origins.has(origin) && origin !== `http://${host}` && origin !== `https://${host}`
          ) {
            return Effect.succeed(
              closing(new Api.CrossOrigin({ message: bounded(`requests from ${origin} are not allowed`) }))
            )
          }
        }
        return app.pipe(Effect.catchCause(answerCause(request)), Effect.flatMap(closeWhenShuttingDown))
      })
  }),
  { global: true }
)

/** The platform's CORS middleware for the configured origins, in every mode (none configured: none allowed). */
export const Cors = Layer.unwrap(
  Effect.map(ServiceConfig, (config) =>
    HttpRouter.cors({
      allowedOrigins: config.allowedOrigins,
      allowedHeaders: ["content-type", "authorization"]
    }))
)
