/**
 * The HTTP API of the offload service, as an `effect/http-api` `HttpApi`:
 * the endpoints, their Schemas, and the error bodies. The OpenAPI document
 * served at `/docs` is generated from it.
 *
 * | endpoint | answers |
 * |---|---|
 * | `POST /jobs` | `202 {"id","state"}`; with `?wait=true`, `200 {"id","op","state","result"?,"error"?}` once the job ended |
 * | `GET /jobs/:id` | `200 {"id","op","state","result"?,"error"?}`, or 404; 409 `JobDiverged` (durable mode: a job this version cannot run) |
 * | `DELETE /jobs/:id[?discard=true]` | `200 {"id","state":"cancelled"}`; 409 `JobEnded` if it already finished or failed; 409 `JobDiverged` (durable mode) unless `discard=true`; 404 |
 * | `GET /stats` | `200 {"maxSize","created","idle","running","paused","finished","failed","cancelled","noJobs"}` |
 * | `GET /metrics` | Prometheus text |
 * | `GET /healthz` | `200 {"status":"ok"}` while the process runs (liveness) |
 * | `GET /readyz` | `200 {"status":"ready"}` while jobs are taken; 503 `ShuttingDown`, `NoJobs` or `EngineUnavailable` |
 * | `GET /docs` | this API as an OpenAPI 3.1 document (`/docs/ui`: Swagger UI; `GET /` redirects there) |
 *
 * `POST /jobs` requires `Content-Type: application/json`. With `AUTH_TOKEN`
 * set, `/jobs` and `/metrics` require `Authorization: Bearer <token>`.
 *
 * Every error answers `{"error":{"tag","message"}}` (validation errors add
 * `issues`, one per problem found by Schema). Each tag is a
 * `Schema.TaggedError` of its own (a handler `yield*`s it); {@link Wire}
 * holds their wire Schemas, each annotated with its HTTP status, and
 * {@link toResponse} answers one outside `HttpApi` (the router's own errors):
 *
 * | status | tags |
 * |---|---|
 * | 400 | `MalformedJson`, `ValidationError`, `MalformedHttp` |
 * | 401 | `Unauthorized` (with `WWW-Authenticate: Bearer`) |
 * | 403 | `CrossOrigin` |
 * | 404 | `NotFound` |
 * | 405 | `MethodNotAllowed` (with `Allow`) |
 * | 408 | `RequestTimeout` |
 * | 409 | `JobEnded`, `JobDiverged` |
 * | 413 | `PayloadTooLarge` |
 * | 415 | `UnsupportedMediaType` |
 * | 421 | `MisdirectedRequest` (a `Host` the service does not answer for) |
 * | 431 | `HeadersTooLarge` (the request line counts: a long URL answers it too) |
 * | 500 | `InternalError` |
 * | 503 | `NoJobs` (with `Retry-After`), `Overloaded` (with `Retry-After`), `ShuttingDown`, `EngineUnavailable` |
 */
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as HttpApiSecurity from "effect/http-api/HttpApiSecurity"
import * as OpenApi from "effect/http-api/OpenApi"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as Operation from "../engine/Operation.js"

export const JobId = Schema.String.check(
  Schema.isPattern(/^(?:[a-z0-9-]{1,32}\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: "must be a job id as POST /jobs answers it (a UUID, in durable mode after its operation and a dot)"
  })
).annotate({ identifier: "JobId", description: "a job id answered by POST /jobs" })

export const JobState = Schema.Literals(["running", "paused", "finished", "failed", "cancelled"]).annotate({
  identifier: "JobState"
})

/**
 * One problem found while validating a request.
 */
export const Issue = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
}).annotate({ identifier: "Issue" })

/**
 * The inside of every error body, and of a failed job's `error`.
 */
export const ErrorDetail = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  issues: Schema.optional(Schema.Array(Issue))
}).annotate({ identifier: "ErrorDetail" })

export type ErrorDetail = typeof ErrorDetail.Type

/**
 * A job, as `GET /jobs/:id` (and `POST /jobs?wait=true`) answer it.
 */
export const JobView = Schema.Struct({
  id: JobId,
  op: Schema.Literals(Operation.ops),
  state: JobState,
  result: Schema.optional(Operation.Result),
  error: Schema.optional(ErrorDetail)
}).annotate({ identifier: "JobView" })

/**
 * What `POST /jobs` answers (202) without `?wait=true`.
 */
export const Accepted = Schema.Struct({ id: JobId, state: JobState }).annotate({ identifier: "Accepted" })

/**
 * What `DELETE /jobs/:id` answers.
 */
export const Cancelled = Schema.Struct({ id: JobId, state: Schema.Literal("cancelled") }).annotate({
  identifier: "Cancelled"
})

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * `GET /stats`: the pool now (`maxSize`, `created`, `idle`, `running`,
 * `paused`), and jobs ended or refused since the start.
 */
export const Stats = Schema.Struct({
  maxSize: Count,
  created: Count,
  idle: Count,
  running: Count,
  paused: Count,
  finished: Count,
  failed: Count,
  cancelled: Count,
  noJobs: Count
}).annotate({ identifier: "Stats" })

export const Health = Schema.Struct({ status: Schema.Literal("ok") }).annotate({ identifier: "Health" })

export const Readiness = Schema.Struct({ status: Schema.Literal("ready") }).annotate({ identifier: "Readiness" })

/**
 * The query of `POST /jobs`.
 */
export const DiscardParams = Schema.Struct({
  discard: Schema.optional(
    Schema.Literals(["true", "false"]).annotate({
      description: "true: a durable job this version cannot run (409 JobDiverged) is cancelled all the same"
    })
  )
})

export const WaitParams = Schema.Struct({
  wait: Schema.optional(
    Schema.Literals(["true", "false"]).annotate({
      description: "true: answer once the job has ended, with its result"
    })
  )
})

/**
 * The path of `GET` and `DELETE /jobs/:id`.
 */
export const IdPath = Schema.Struct({ id: JobId })

/** The fields of every error: a message (and, for a validation error, the issues). */
const detail = { message: Schema.String }
const withIssues = { message: Schema.String, issues: Schema.Array(Issue) }

/**
 * 400: the body is not JSON (or is empty).
 */
export class MalformedJson extends Schema.TaggedError<MalformedJson>()("MalformedJson", detail) {}

/**
 * 400: a request Schema refused the body, path or query; one issue per problem found.
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", withIssues) {}

/**
 * 400: the request is not HTTP/1.1. Written by the server itself.
 */
export class MalformedHttp extends Schema.TaggedError<MalformedHttp>()("MalformedHttp", detail) {}

/**
 * 401: `AUTH_TOKEN` is set and the request does not carry it as a bearer token.
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", detail) {}

/**
 * 403: a browser request from an origin that is neither the service's own
 * nor one of `ALLOWED_ORIGINS`.
 */
export class CrossOrigin extends Schema.TaggedError<CrossOrigin>()("CrossOrigin", detail) {}

/**
 * 421: the request's `Host` names no host this service answers for (the
 * loopback names, `HOST`, `ALLOWED_HOSTS`): a DNS-rebinding page, or a
 * misrouted request.
 */
export class MisdirectedRequest extends Schema.TaggedError<MisdirectedRequest>()("MisdirectedRequest", detail) {}

/**
 * 404: no such job (never, or ended and forgotten), or no such route.
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", detail) {}

/**
 * 405: the path exists, not with this method; `Allow` lists the methods it takes.
 */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", detail) {}

/**
 * 408: the request line and headers, or the whole request, did not arrive in
 * time (`HEADERS_TIMEOUT`, `REQUEST_TIMEOUT`). Written by the server itself.
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", detail) {}

/**
 * 409: the job already finished or failed.
 */
export class JobEnded extends Schema.TaggedError<JobEnded>()("JobEnded", detail) {}

/**
 * 409: durable mode: the job was started by another version of the service,
 * whose journal this one cannot replay; it waits, suspended, until a version
 * that can runs, or `DELETE /jobs/:id?discard=true` cancels it.
 */
export class JobDiverged extends Schema.TaggedError<JobDiverged>()("JobDiverged", detail) {}

/**
 * 413: the body exceeds `MAX_BODY_BYTES`.
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", detail) {}

/**
 * 415: `POST /jobs` without `Content-Type: application/json`.
 */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", detail) {}

/**
 * 431: the request line and headers exceed `MAX_HEADER_BYTES`. Written by the
 * server itself.
 */
export class HeadersTooLarge extends Schema.TaggedError<HeadersTooLarge>()("HeadersTooLarge", detail) {}

/**
 * 500: a bug (logged; the answer carries no detail).
 */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", detail) {}

/**
 * 503: the pool is full; retry after `Retry-After`.
 */
export class NoJobs extends Schema.TaggedError<NoJobs>()("NoJobs", detail) {}

/**
 * 503: the request bodies in progress hold `MAX_BUFFERED_BYTES`; retry after `Retry-After`.
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", detail) {}

/**
 * 503: the service is shutting down: go elsewhere.
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", detail) {}

/**
 * 503 from `/readyz`: the crypto engine's workers keep failing to start (the
 * message says why); the engine keeps respawning them with back-off.
 */
export class EngineUnavailable extends Schema.TaggedError<EngineUnavailable>()("EngineUnavailable", detail) {}

/**
 * A tagged error of `{ message }` on the wire: `{"error":{"tag","message"}}`,
 * with its HTTP status annotated (which `HttpApi` answers it with, and which
 * the OpenAPI document lists it under).
 */
const onWire = <const Tag extends string, Self>(
  error: Schema.Codec<Self, { readonly _tag: Tag; readonly message: string }>,
  tag: Tag,
  status: number
) =>
  Schema.Struct({ error: Schema.Struct({ tag: Schema.Literal(tag), ...detail }) }).pipe(
    Schema.decodeTo(
      error,
      SchemaTransformation.transform({
        decode: ({ error }) => ({ _tag: error.tag, message: error.message }),
        encode: ({ _tag, message }) => ({ error: { tag: _tag, message } })
      })
    ),
    HttpApiSchema.status(status),
    Schema.annotateEncoded({ identifier: tag })
  )

/**
 * Every error of the API as it crosses the wire, by tag: the Schemas the
 * endpoints declare, with their HTTP status.
 */
export const Wire = {
  MalformedJson: onWire(MalformedJson, "MalformedJson", 400),
  ValidationError: Schema.Struct({ error: Schema.Struct({ tag: Schema.Literal("ValidationError"), ...withIssues }) })
    .pipe(
      Schema.decodeTo(
        ValidationError,
        SchemaTransformation.transform({
          decode: ({ error }) => ({ _tag: error.tag, message: error.message, issues: error.issues }),
          encode: ({ _tag, issues, message }) => ({ error: { tag: _tag, message, issues } })
        })
      ),
      HttpApiSchema.status(400),
      Schema.annotateEncoded({ identifier: "ValidationError" })
    ),
  MalformedHttp: onWire(MalformedHttp, "MalformedHttp", 400),
  Unauthorized: onWire(Unauthorized, "Unauthorized", 401),
  CrossOrigin: onWire(CrossOrigin, "CrossOrigin", 403),
  NotFound: onWire(NotFound, "NotFound", 404),
  MisdirectedRequest: onWire(MisdirectedRequest, "MisdirectedRequest", 421),
  MethodNotAllowed: onWire(MethodNotAllowed, "MethodNotAllowed", 405),
  RequestTimeout: onWire(RequestTimeout, "RequestTimeout", 408),
  JobEnded: onWire(JobEnded, "JobEnded", 409),
  JobDiverged: onWire(JobDiverged, "JobDiverged", 409),
  PayloadTooLarge: onWire(PayloadTooLarge, "PayloadTooLarge", 413),
  UnsupportedMediaType: onWire(UnsupportedMediaType, "UnsupportedMediaType", 415),
  HeadersTooLarge: onWire(HeadersTooLarge, "HeadersTooLarge", 431),
  InternalError: onWire(InternalError, "InternalError", 500),
  NoJobs: onWire(NoJobs, "NoJobs", 503),
  Overloaded: onWire(Overloaded, "Overloaded", 503),
  ShuttingDown: onWire(ShuttingDown, "ShuttingDown", 503),
  EngineUnavailable: onWire(EngineUnavailable, "EngineUnavailable", 503)
} as const

/**
 * Every error of the API.
 */
export type ApiError = (typeof Wire)[keyof typeof Wire]["Type"]

/**
 * The HTTP status each error answers with.
 */
export const statusOf: { readonly [Tag in ApiError["_tag"]]: number } = {
  MalformedJson: 400,
  ValidationError: 400,
  MalformedHttp: 400,
  Unauthorized: 401,
  CrossOrigin: 403,
  NotFound: 404,
  MisdirectedRequest: 421,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  JobEnded: 409,
  JobDiverged: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  HeadersTooLarge: 431,
  InternalError: 500,
  NoJobs: 503,
  Overloaded: 503,
  ShuttingDown: 503,
  EngineUnavailable: 503
}

/**
 * An error's body on the wire, `{"error":{"tag","message","issues"?}}`.
 */
export const encodeError = (error: ApiError): { readonly error: ErrorDetail } =>
  error._tag === "ValidationError"
    ? { error: { tag: error._tag, message: error.message, issues: error.issues } }
    : { error: { tag: error._tag, message: error.message } }

/**
 * An error as a whole response, for what is answered outside `HttpApi` (the
 * router's and the server's own errors).
 */
export const toResponse = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(encodeError(error), { status: statusOf[error._tag] })

/**
 * The bearer token check of `/jobs` and `/metrics`; it lets every request
 * through when no `AUTH_TOKEN` is set.
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization>()(
  "@async-job/offload-service/Authorization",
  {
    error: Wire.Unauthorized,
    security: { bearer: HttpApiSecurity.bearer }
  }
) {}

/**
 * The errors any request may meet besides its endpoint's own: what the
 * server, the router and the request's own checks answer. Its one job in
 * `HttpApi` is to answer a path or query the endpoint's Schema refuses as a
 * `ValidationError`; the others are declared here so that the OpenAPI
 * document lists them on every endpoint.
 */
export class RequestErrors extends HttpApiMiddleware.Service<RequestErrors>()(
  "@async-job/offload-service/RequestErrors",
  {
    error: [
      Wire.MalformedJson,
      Wire.ValidationError,
      Wire.MalformedHttp,
      Wire.CrossOrigin,
      Wire.MisdirectedRequest,
      Wire.NotFound,
      Wire.MethodNotAllowed,
      Wire.RequestTimeout,
      Wire.PayloadTooLarge,
      Wire.HeadersTooLarge,
      Wire.InternalError,
      Wire.Overloaded
    ]
  }
) {}

export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(
    // the body is read and decoded by the handler (see `Server`): 415, 413 and the 400s below are its own
    HttpApiEndpoint.post("submit", "/jobs", {
      payload: Operation.Request,
      query: WaitParams,
      success: [Accepted.pipe(HttpApiSchema.status(202)), JobView],
      error: [
        Wire.NoJobs,
        Wire.ShuttingDown,
        Wire.UnsupportedMediaType,
        Wire.PayloadTooLarge,
        Wire.MalformedJson,
        Wire.ValidationError
      ]
    }).annotate(OpenApi.Summary, "Start a job")
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id", {
      params: IdPath,
      success: JobView,
      error: [Wire.NotFound, Wire.JobDiverged]
    }).annotate(OpenApi.Summary, "A job's state, and its result once finished")
  )
  .add(
    HttpApiEndpoint.delete("cancel", "/jobs/:id", {
      params: IdPath,
      query: DiscardParams,
      success: Cancelled,
      error: [Wire.NotFound, Wire.JobEnded, Wire.JobDiverged]
    }).annotate(OpenApi.Summary, "Cancel a running or paused job")
  )
  .middleware(Authorization)
{}

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("stats", "/stats", { success: Stats }).annotate(OpenApi.Summary, "Pool and job counts"))
  .add(
    HttpApiEndpoint.get("metrics", "/metrics", {
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/plain; version=0.0.4; charset=utf-8" })),
      error: Wire.NotFound
    })
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Prometheus metrics")
  )
  .add(
    HttpApiEndpoint.get("healthz", "/healthz", { success: Health })
      .annotate(OpenApi.Summary, "Liveness: the process runs and answers")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz", {
      success: Readiness,
      error: [Wire.NoJobs, Wire.ShuttingDown, Wire.EngineUnavailable]
    }).annotate(
      OpenApi.Summary,
      "Readiness: jobs are taken (503 while shutting down, while the pool is full or while the engine's workers fail to start)"
    )
  )
{}

export class Api extends HttpApi.make("offload")
  .add(JobsGroup, OpsGroup)
  .middleware(RequestErrors)
  .annotate(OpenApi.Title, "async-job offload service")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(
    OpenApi.Description,
    "Each POST /jobs is an async job paused on a worker-thread crypto engine, resumed when the engine signals its wait fd."
  )
{}
