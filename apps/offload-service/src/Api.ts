/**
 * The HTTP API of the offload service, as an `@effect/platform` `HttpApi`:
 * the endpoints, their Schemas, and the error bodies. The OpenAPI document
 * served at `/docs` is generated from it.
 *
 * | endpoint | answers |
 * |---|---|
 * | `POST /jobs` | `202 {"id","state"}`; with `?wait=true`, `200 {"id","op","state","result"?,"error"?}` once the job ended |
 * | `GET /jobs/:id` | `200 {"id","op","state","result"?,"error"?}`, or 404 |
 * | `DELETE /jobs/:id` | `200 {"id","state":"cancelled"}`; 409 if it already finished or failed; 404 |
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
 * holds their wire Schemas, each annotated with its HTTP status:
 *
 * | status | tags |
 * |---|---|
 * | 400 | `MalformedJson`, `ValidationError`, `MalformedHttp` |
 * | 401 | `Unauthorized` (with `WWW-Authenticate: Bearer`) |
 * | 403 | `CrossOrigin` |
 * | 404 | `NotFound` |
 * | 405 | `MethodNotAllowed` (with `Allow`) |
 * | 408 | `RequestTimeout` |
 * | 409 | `JobEnded` |
 * | 413 | `PayloadTooLarge` |
 * | 415 | `UnsupportedMediaType` |
 * | 431 | `HeadersTooLarge` (the request line counts: a long URL answers it too) |
 * | 500 | `InternalError` |
 * | 503 | `NoJobs` (with `Retry-After`), `Overloaded` (with `Retry-After`), `ShuttingDown`, `EngineUnavailable` |
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import * as Operation from "./Operation.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const JobId = Schema.String.annotations({ identifier: "JobId", description: "a job id answered by POST /jobs" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const JobState = Schema.Literal("running", "paused", "finished", "failed", "cancelled").annotations({
  identifier: "JobState"
})

/**
 * One problem found while validating a request.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Issue = Schema.Struct({
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String
}).annotations({ identifier: "Issue" })

/**
 * The inside of every error body, and of a failed job's `error`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ErrorDetail = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  issues: Schema.optional(Schema.Array(Issue))
}).annotations({ identifier: "ErrorDetail" })

/**
 * @since 0.1.0
 * @category models
 */
export type ErrorDetail = typeof ErrorDetail.Type

/**
 * A job, as `GET /jobs/:id` (and `POST /jobs?wait=true`) answer it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JobView = Schema.Struct({
  id: JobId,
  op: Schema.Literal(...Operation.ops),
  state: JobState,
  result: Schema.optional(Operation.Result),
  error: Schema.optional(ErrorDetail)
}).annotations({ identifier: "JobView" })

/**
 * What `POST /jobs` answers (202) without `?wait=true`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Accepted = Schema.Struct({ id: JobId, state: JobState }).annotations({ identifier: "Accepted" })

/**
 * What `DELETE /jobs/:id` answers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Cancelled = Schema.Struct({ id: JobId, state: Schema.Literal("cancelled") }).annotations({
  identifier: "Cancelled"
})

const Count = Schema.Int.pipe(Schema.nonNegative())

/**
 * `GET /stats`: the pool now (`maxSize`, `created`, `idle`, `running`,
 * `paused`), and jobs ended or refused since the start.
 *
 * @since 0.1.0
 * @category schemas
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
}).annotations({ identifier: "Stats" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const Health = Schema.Struct({ status: Schema.Literal("ok") }).annotations({ identifier: "Health" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const Readiness = Schema.Struct({ status: Schema.Literal("ready") }).annotations({ identifier: "Readiness" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const WaitParams = Schema.Struct({
  wait: Schema.optional(Schema.Literal("true", "false")).annotations({
    description: "true: answer once the job has ended, with its result"
  })
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const IdPath = Schema.Struct({ id: JobId })

/** The fields of every error: a message (and, for a validation error, the issues). */
const detail = { message: Schema.String }
const withIssues = { message: Schema.String, issues: Schema.Array(Issue) }

/**
 * A tagged error on the wire: `{"error":{"tag","message","issues"?}}`, with
 * its HTTP status annotated (which `HttpApi` answers it with, and which the
 * OpenAPI document lists it under).
 */
const onWire = <E, I extends { readonly _tag: string }, const Tag extends string, F extends Schema.Struct.Fields>(
  error: Schema.Schema<E, I>,
  tag: Tag,
  status: number,
  fields: F
) =>
  Schema.transform(Schema.Struct({ error: Schema.Struct({ tag: Schema.Literal(tag), ...fields }) }), error, {
    strict: false,
    decode: ({ error }) => ({ ...error, _tag: tag }),
    encode: ({ _tag, ...fields }) => ({ error: { tag: _tag, ...fields } })
  }).annotations({ ...HttpApiSchema.annotations({ status }), identifier: tag })

/**
 * 400: the body is not JSON (or is empty).
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedJson extends Schema.TaggedError<MalformedJson>()("MalformedJson", detail) {}

/**
 * 400: a request Schema refused the body, path or query; one issue per problem found.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", withIssues) {}

/**
 * 400: the request is not HTTP/1.1. Written by the server itself.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedHttp extends Schema.TaggedError<MalformedHttp>()("MalformedHttp", detail) {}

/**
 * 401: `AUTH_TOKEN` is set and the request does not carry it as a bearer token.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", detail) {}

/**
 * 403: a browser request from an origin that is neither the service's own
 * nor one of `ALLOWED_ORIGINS`.
 *
 * @since 0.1.0
 * @category errors
 */
export class CrossOrigin extends Schema.TaggedError<CrossOrigin>()("CrossOrigin", detail) {}

/**
 * 404: no such job (never, or ended and forgotten), or no such route.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", detail) {}

/**
 * 405: the path exists, not with this method; `Allow` lists the methods it takes.
 *
 * @since 0.1.0
 * @category errors
 */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", detail) {}

/**
 * 408: the request line and headers, or the whole request, did not arrive in
 * time (`HEADERS_TIMEOUT`, `REQUEST_TIMEOUT`). Written by the server itself.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", detail) {}

/**
 * 409: the job already finished or failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobEnded extends Schema.TaggedError<JobEnded>()("JobEnded", detail) {}

/**
 * 413: the body exceeds `MAX_BODY_BYTES`.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", detail) {}

/**
 * 415: `POST /jobs` without `Content-Type: application/json`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", detail) {}

/**
 * 431: the request line and headers exceed `MAX_HEADER_BYTES`. Written by the
 * server itself.
 *
 * @since 0.1.0
 * @category errors
 */
export class HeadersTooLarge extends Schema.TaggedError<HeadersTooLarge>()("HeadersTooLarge", detail) {}

/**
 * 500: a bug (logged; the answer carries no detail).
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", detail) {}

/**
 * 503: the pool is full; retry after `Retry-After`.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoJobs extends Schema.TaggedError<NoJobs>()("NoJobs", detail) {}

/**
 * 503: the request bodies in progress hold `MAX_BUFFERED_BYTES`; retry after `Retry-After`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", detail) {}

/**
 * 503: the service is shutting down: go elsewhere.
 *
 * @since 0.1.0
 * @category errors
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", detail) {}

/**
 * 503 from `/readyz`: the crypto engine's workers keep failing to start (the
 * message says why); the engine keeps respawning them with back-off.
 *
 * @since 0.1.0
 * @category errors
 */
export class EngineUnavailable extends Schema.TaggedError<EngineUnavailable>()("EngineUnavailable", detail) {}

/**
 * Every error of the API as it crosses the wire, by tag: the Schemas the
 * endpoints declare, with their HTTP status.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Wire = {
  MalformedJson: onWire(MalformedJson, "MalformedJson", 400, detail),
  ValidationError: onWire(ValidationError, "ValidationError", 400, withIssues),
  MalformedHttp: onWire(MalformedHttp, "MalformedHttp", 400, detail),
  Unauthorized: onWire(Unauthorized, "Unauthorized", 401, detail),
  CrossOrigin: onWire(CrossOrigin, "CrossOrigin", 403, detail),
  NotFound: onWire(NotFound, "NotFound", 404, detail),
  MethodNotAllowed: onWire(MethodNotAllowed, "MethodNotAllowed", 405, detail),
  RequestTimeout: onWire(RequestTimeout, "RequestTimeout", 408, detail),
  JobEnded: onWire(JobEnded, "JobEnded", 409, detail),
  PayloadTooLarge: onWire(PayloadTooLarge, "PayloadTooLarge", 413, detail),
  UnsupportedMediaType: onWire(UnsupportedMediaType, "UnsupportedMediaType", 415, detail),
  HeadersTooLarge: onWire(HeadersTooLarge, "HeadersTooLarge", 431, detail),
  InternalError: onWire(InternalError, "InternalError", 500, detail),
  NoJobs: onWire(NoJobs, "NoJobs", 503, detail),
  Overloaded: onWire(Overloaded, "Overloaded", 503, detail),
  ShuttingDown: onWire(ShuttingDown, "ShuttingDown", 503, detail),
  EngineUnavailable: onWire(EngineUnavailable, "EngineUnavailable", 503, detail)
} as const

/**
 * The bearer token check of `/jobs` and `/metrics`; it lets every request
 * through when no `AUTH_TOKEN` is set.
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@async-job/offload-service/Authorization", {
  failure: Wire.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * The body checks of `POST /jobs` that come before `HttpApi` decodes it: a
 * JSON content type (415), a declared length within the limit (413) and not
 * zero (400 `MalformedJson`), and JSON nested at most 32 deep (400
 * `ValidationError`).
 *
 * @since 0.1.0
 * @category middleware
 */
export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("@async-job/offload-service/JsonBody", {
  failure: Schema.Union(Wire.UnsupportedMediaType, Wire.PayloadTooLarge, Wire.MalformedJson, Wire.ValidationError)
}) {}

/**
 * @since 0.1.0
 * @category groups
 */
export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("submit", "/jobs")
      .setPayload(Operation.Request)
      .setUrlParams(WaitParams)
      .addSuccess(Accepted, { status: 202 })
      .addSuccess(JobView)
      .addError(Wire.NoJobs)
      .addError(Wire.ShuttingDown)
      .middleware(JsonBody)
      .annotate(OpenApi.Summary, "Start a job")
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id")
      .setPath(IdPath)
      .addSuccess(JobView)
      .addError(Wire.NotFound)
      .annotate(OpenApi.Summary, "A job's state, and its result once finished")
  )
  .add(
    HttpApiEndpoint.del("cancel", "/jobs/:id")
      .setPath(IdPath)
      .addSuccess(Cancelled)
      .addError(Wire.NotFound)
      .addError(Wire.JobEnded)
      .annotate(OpenApi.Summary, "Cancel a running or paused job")
  )
  .middleware(Authorization)
{}

/**
 * @since 0.1.0
 * @category groups
 */
export class OpsGroup extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("stats", "/stats").addSuccess(Stats).annotate(OpenApi.Summary, "Pool and job counts"))
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      .addError(Wire.NotFound)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Prometheus metrics")
  )
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "Liveness: the process runs and answers")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Readiness)
      .addError(Wire.NoJobs)
      .addError(Wire.ShuttingDown)
      .addError(Wire.EngineUnavailable)
      .annotate(
        OpenApi.Summary,
        "Readiness: jobs are taken (503 while shutting down, while the pool is full or while the engine's workers fail to start)"
      )
  )
{}

/**
 * `HttpApi` documents its own decode error (`HttpApiDecodeError`) on every
 * endpoint; this service answers it as a `ValidationError` instead (see
 * `Server`), so the document drops it.
 */
const withoutDecodeError = (spec: Record<string, any>): Record<string, any> => {
  const ref = "#/components/schemas/HttpApiDecodeError"
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip)
    if (typeof value !== "object" || value === null) return value
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(value)) out[key] = strip(child)
    const anyOf = out.anyOf
    if (Array.isArray(anyOf)) {
      const kept = anyOf.filter((entry) => (entry as { $ref?: string }).$ref !== ref)
      if (kept.length === 1) {
        delete out.anyOf
        return { ...out, ...(kept[0] as object) }
      }
      out.anyOf = kept
    }
    return out
  }
  const stripped = strip(spec) as Record<string, any>
  delete stripped.components?.schemas?.HttpApiDecodeError
  return stripped
}

/**
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("offload")
  .add(JobsGroup)
  .add(OpsGroup)
  // what any request may meet, before or beside its endpoint
  .addError(Wire.MalformedJson)
  .addError(Wire.ValidationError)
  .addError(Wire.MalformedHttp)
  .addError(Wire.CrossOrigin)
  .addError(Wire.NotFound)
  .addError(Wire.MethodNotAllowed)
  .addError(Wire.RequestTimeout)
  .addError(Wire.PayloadTooLarge)
  .addError(Wire.HeadersTooLarge)
  .addError(Wire.InternalError)
  .addError(Wire.Overloaded)
  .annotate(OpenApi.Title, "async-job offload service")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, withoutDecodeError)
  .annotate(
    OpenApi.Description,
    "Each POST /jobs is an async job paused on a worker-thread crypto engine, resumed when the engine signals its wait fd."
  )
{}
