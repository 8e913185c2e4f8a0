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
 * | `GET /readyz` | `200 {"status":"ready"}` while jobs are taken; 503 `ShuttingDown` or `NoJobs` |
 * | `GET /docs` | this API as an OpenAPI 3.1 document (`/docs/ui`: Swagger UI; `GET /` redirects there) |
 *
 * `POST /jobs` requires `Content-Type: application/json`. With `AUTH_TOKEN`
 * set, `/jobs` and `/metrics` require `Authorization: Bearer <token>`.
 *
 * Every error answers `{"error":{"tag","message"}}` (validation errors add
 * `issues`, one per problem found by Schema):
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
 * | 503 | `NoJobs` (with `Retry-After`), `Overloaded` (with `Retry-After`), `ShuttingDown` |
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

/**
 * The body of an error whose `tag` is one of `tags`: `{"error":{"tag","message","issues"?}}`.
 * The tag literals tell the error bodies apart (and document them).
 */
const errorFields = <const Tags extends ReadonlyArray<string>>(...tags: Tags) => ({
  error: Schema.Struct({
    tag: Schema.Literal(...tags),
    message: Schema.String,
    issues: Schema.optional(Schema.Array(Issue))
  })
})

/**
 * 400: malformed JSON (`MalformedJson`), a request Schema refused
 * (`ValidationError`), or a request that is not HTTP (`MalformedHttp`).
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.Class<BadRequest>("BadRequest")(
  errorFields("MalformedJson", "ValidationError", "MalformedHttp"),
  HttpApiSchema.annotations({ status: 400 })
) {}

/**
 * 404: no such job, or no such route.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.Class<NotFound>("NotFound")(
  errorFields("NotFound"),
  HttpApiSchema.annotations({ status: 404 })
) {}

/**
 * 409: the job already finished or failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.Class<Conflict>("Conflict")(
  errorFields("JobEnded"),
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * 413: the body exceeds the limit.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")(
  errorFields("PayloadTooLarge"),
  HttpApiSchema.annotations({ status: 413 })
) {}

/**
 * 401: `AUTH_TOKEN` is set and the request does not carry it as a bearer token.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.Class<Unauthorized>("Unauthorized")(
  errorFields("Unauthorized"),
  HttpApiSchema.annotations({ status: 401 })
) {}

/**
 * 403: a browser request from an origin that is neither the service's own
 * nor one of `ALLOWED_ORIGINS`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.Class<Forbidden>("Forbidden")(
  errorFields("CrossOrigin"),
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * 405: the path exists, not with this method; `Allow` lists the methods it takes.
 *
 * @since 0.1.0
 * @category errors
 */
export class MethodNotAllowed extends Schema.Class<MethodNotAllowed>("MethodNotAllowed")(
  errorFields("MethodNotAllowed"),
  HttpApiSchema.annotations({ status: 405 })
) {}

/**
 * 408: the request line and headers, or the whole request, did not arrive in
 * time (`HEADERS_TIMEOUT`, `REQUEST_TIMEOUT`). Written by the server itself.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Schema.Class<RequestTimeout>("RequestTimeout")(
  errorFields("RequestTimeout"),
  HttpApiSchema.annotations({ status: 408 })
) {}

/**
 * 415: `POST /jobs` without `Content-Type: application/json`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedMediaType extends Schema.Class<UnsupportedMediaType>("UnsupportedMediaType")(
  errorFields("UnsupportedMediaType"),
  HttpApiSchema.annotations({ status: 415 })
) {}

/**
 * 431: the request line and headers exceed `MAX_HEADER_BYTES`. Written by the
 * server itself.
 *
 * @since 0.1.0
 * @category errors
 */
export class HeadersTooLarge extends Schema.Class<HeadersTooLarge>("HeadersTooLarge")(
  errorFields("HeadersTooLarge"),
  HttpApiSchema.annotations({ status: 431 })
) {}

/**
 * 503: the pool is full (`NoJobs`, with `Retry-After`), the request bodies in
 * progress hold `MAX_BUFFERED_BYTES` (`Overloaded`, with `Retry-After`), or
 * the service is shutting down.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServiceUnavailable extends Schema.Class<ServiceUnavailable>("ServiceUnavailable")(
  errorFields("NoJobs", "Overloaded", "ShuttingDown"),
  HttpApiSchema.annotations({ status: 503 })
) {}

/**
 * 500: a bug.
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalError extends Schema.Class<InternalError>("InternalError")(
  errorFields("InternalError"),
  HttpApiSchema.annotations({ status: 500 })
) {}

/**
 * Makes an error body.
 *
 * @since 0.1.0
 * @category constructors
 */
export const errorBody = <const Tag extends string>(
  tag: Tag,
  message: string,
  issues?: ReadonlyArray<typeof Issue.Type>
): {
  readonly error: { readonly tag: Tag; readonly message: string; readonly issues?: ReadonlyArray<typeof Issue.Type> }
} => ({ error: issues === undefined ? { tag, message } : { tag, message, issues } })

/**
 * The bearer token check of `/jobs` and `/metrics`; it lets every request
 * through when no `AUTH_TOKEN` is set.
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@async-job/offload-service/Authorization", {
  failure: Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * The body checks of `POST /jobs` that come before reading it: a JSON
 * content type (415), a declared length within the limit (413) and not zero
 * (400 `MalformedJson`).
 *
 * @since 0.1.0
 * @category middleware
 */
export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("@async-job/offload-service/JsonBody", {
  failure: Schema.Union(UnsupportedMediaType, PayloadTooLarge, BadRequest)
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
      .addError(BadRequest)
      .addError(PayloadTooLarge)
      .addError(ServiceUnavailable)
      .middleware(JsonBody)
      .annotate(OpenApi.Summary, "Start a job")
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id")
      .setPath(IdPath)
      .addSuccess(JobView)
      .addError(NotFound)
      .annotate(OpenApi.Summary, "A job's state, and its result once finished")
  )
  .add(
    HttpApiEndpoint.del("cancel", "/jobs/:id")
      .setPath(IdPath)
      .addSuccess(Cancelled)
      .addError(NotFound)
      .addError(Conflict)
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
      .addError(ServiceUnavailable)
      .annotate(OpenApi.Summary, "Readiness: jobs are taken (503 while shutting down or while the pool is full)")
  )
{}

/**
 * `HttpApi` documents its own decode error (`HttpApiDecodeError`) on every
 * endpoint; this service answers it as a `BadRequest` instead (see
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
  .addError(BadRequest)
  .addError(Forbidden)
  .addError(NotFound)
  .addError(MethodNotAllowed)
  .addError(RequestTimeout)
  .addError(PayloadTooLarge)
  .addError(HeadersTooLarge)
  .addError(InternalError)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "async-job offload service")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, withoutDecodeError)
  .annotate(
    OpenApi.Description,
    "Each POST /jobs is an async job paused on a worker-thread crypto engine, resumed when the engine signals its wait fd."
  )
{}
