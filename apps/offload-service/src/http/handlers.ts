/**
 * One handler per endpoint of the {@link Api.Api}, each calling the `Jobs`
 * service (or the engine's health, or the telemetry).
 *
 * `POST /jobs` reads its own body (`handleRaw`), after the router-wide checks
 * and the bearer token: a content type the platform takes for its payload
 * (415), a body within `MAX_BODY_BYTES` (413), each chunk reserved from
 * `MAX_BUFFERED_BYTES` as it arrives (503 `Overloaded`), valid UTF-8 and
 * JSON (400 `MalformedJson`), nested at most 32 deep and a valid request (400
 * `ValidationError`).
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { isUtf8 } from "node:buffer"
import type * as Http from "node:http"
import { ServiceConfig } from "../config.js"
import { CryptoEngine } from "../engine/CryptoEngine.js"
import * as Operation from "../engine/Operation.js"
import * as Jobs from "../jobs/Jobs.js"
import { Telemetry } from "../telemetry.js"
import * as Api from "./api.js"
import { bounded, failClosing, setHeader, validationError } from "./middleware.js"
import * as requests from "./requests.js"
import { Traffic } from "./traffic.js"

// ---------------------------------------------------------------------------
// the body of POST /jobs

const payloadTooLarge = (limit: number) => new Api.PayloadTooLarge({ message: `the body exceeds ${limit} bytes` })

const malformed = (message: string) => new Api.MalformedJson({ message: bounded(message) })

type ReadError = Api.PayloadTooLarge | Api.MalformedJson | Api.Overloaded

/**
 * The body's bytes, read from node's request as they arrive: each chunk is
 * reserved from the buffered-bytes budget before it is kept (past the budget:
 * 503 `Overloaded`, the connection closed), past the limit the rest is read
 * and dropped and the answer is 413. Succeeds with the bytes and how many are
 * reserved (released by the caller once the body is decoded). A request that
 * stalls is ended by node's `REQUEST_TIMEOUT` (its socket closes: the read
 * fails).
 */
const readBody = (
  incoming: Http.IncomingMessage,
  limit: number,
  traffic: Traffic,
  overloaded: Api.Overloaded
): Effect.Effect<Buffer, ReadError> =>
  Effect.callback<Buffer, ReadError>((resume) => {
    const chunks: Array<Buffer> = []
    let received = 0
    let over = false
    let settled = false
    const release = () => {
      traffic.release(received)
      received = 0
    }
    const finish = (effect: Effect.Effect<Buffer, ReadError>) => {
      if (settled) return
      settled = true
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.off("close", onClose)
      resume(effect)
    }
    const onData = (chunk: Buffer) => {
      if (over) return
      if (received + chunk.length > limit) {
        // read on to the end, unkept, so that a client still sending gets the 413
        over = true
        chunks.length = 0
        release()
        return
      }
      if (!traffic.reserve(chunk.length)) {
        release()
        chunks.length = 0
        incoming.pause()
        return finish(Effect.fail(overloaded))
      }
      received += chunk.length
      chunks.push(chunk)
    }
    const onEnd = () => {
      if (over) return finish(Effect.fail(payloadTooLarge(limit)))
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)
      const reserved = received
      received = 0
      finish(Effect.ensuring(Effect.succeed(body), Effect.sync(() => traffic.release(reserved))))
    }
    const onError = (error: Error) => {
      release()
      finish(Effect.andThen(
        Effect.logDebug("a request body could not be read", error),
        Effect.fail(malformed("the body could not be read"))
      ))
    }
    const onClose = () => {
      if (!incoming.complete) onError(new Error("the connection closed before the body ended"))
    }
    if (incoming.readableEnded) {
      return finish(Effect.fail(malformed("the body was already read")))
    }
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    incoming.on("error", onError)
    incoming.on("close", onClose)
    return Effect.sync(() => {
      settled = true
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.off("close", onClose)
      release()
    })
  })

/** Reads a body to its end and drops it (or until its connection closes). */
const drain = (incoming: Http.IncomingMessage): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const done = () => resume(Effect.void)
    incoming.once("end", done)
    incoming.once("close", done)
    incoming.resume()
    return Effect.sync(() => {
      incoming.off("end", done)
      incoming.off("close", done)
    })
  })

/**
 * The body of `POST /jobs` as an operation request. The content type is
 * checked first (415), then the declared length (413, read to its end up to
 * 16 × the limit so that the client gets the answer), then the body is read
 * (see {@link readBody}) and decoded.
 */
const readRequest = (
  request: HttpServerRequest.HttpServerRequest,
  config: ServiceConfig,
  traffic: Traffic,
  overloaded: Api.Overloaded
) =>
  Effect.gen(function*() {
    const limit = config.maxBodyBytes
    const contentType = request.headers["content-type"]
    if (contentType === undefined || !requests.isJson(contentType)) {
      return yield* failClosing(
        new Api.UnsupportedMediaType({
          message: bounded(`the body must be application/json, got ${contentType ?? "none"}`)
        })
      )
    }
    const incoming = NodeHttpServerRequest.toIncomingMessage(request) as Http.IncomingMessage
    const declared = request.headers["content-length"]
    const length = declared === undefined ? undefined : Number(declared)
    if (length === 0) return yield* Effect.fail(malformed("the body is empty"))
    if (length !== undefined && length > limit) {
      // read a body of up to 16 × the limit to its end, unkept, so that a client still sending gets the 413
      if (length <= limit * 16) yield* drain(incoming)
      return yield* failClosing(payloadTooLarge(limit))
    }
    const bytes = yield* readBody(incoming, limit, traffic, overloaded).pipe(
      Effect.catchTags({
        PayloadTooLarge: (error) => failClosing<ReadError>(error),
        Overloaded: (error) =>
          Effect.andThen(setHeader("retry-after", String(config.retryAfterSeconds)), failClosing<ReadError>(error))
      })
    )
    if (bytes.length === 0) return yield* Effect.fail(malformed("the body is empty"))
    // a body is what was sent, never a guess at it: not UTF-8 is refused (node's check, then its decoder)
    if (!isUtf8(bytes)) return yield* Effect.fail(malformed("the body is not valid UTF-8"))
    const text = bytes.toString("utf8")
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

const overloadedJobs = (error: Jobs.OverloadedError, retryAfterSeconds: number) =>
  Effect.andThen(
    setHeader("retry-after", String(retryAfterSeconds)),
    Effect.fail(new Api.Overloaded({ message: error.message }))
  )

const notFound = (error: Jobs.JobNotFoundError) => Effect.fail(new Api.NotFound({ message: error.message }))

const diverged = (error: Jobs.JobDivergedError) => Effect.fail(new Api.JobDiverged({ message: bounded(error.message) }))

export const JobsHandlers = HttpApiBuilder.group(Api.Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const config = yield* ServiceConfig
    const traffic = yield* Traffic
    const overloaded = new Api.Overloaded({
      message: "too many request bytes in progress: retry after the Retry-After delay"
    })
    const startErrors = {
      NoJobsError: () => noJobs(config.retryAfterSeconds),
      ShuttingDownError: () => shuttingDown,
      OverloadedError: (error: Jobs.OverloadedError) => overloadedJobs(error, config.retryAfterSeconds)
    }
    return handlers
      // the body is read and decoded here (see `readRequest`); two successes (202 and 200), each with its status
      .handleRaw("submit", ({ query, request }) =>
        Effect.flatMap(readRequest(request, config, traffic, overloaded), (payload) =>
          query.wait === "true"
            ? Effect.map(jobs.run(payload), (view) =>
              HttpServerResponse.jsonUnsafe(view)).pipe(
                Effect.catchTags(startErrors)
              )
            : Effect.map(
              jobs.submit(payload),
              (view) => HttpServerResponse.jsonUnsafe({ id: view.id, state: view.state }, { status: 202 })
            ).pipe(Effect.catchTags(startErrors))))
      .handle("get", ({ params }) =>
        Effect.catchTags(jobs.get(params.id), { JobNotFoundError: notFound, JobDivergedError: diverged }))
      .handle("cancel", ({ params, query }) =>
        jobs.cancel(params.id, { discard: query.discard === "true" }).pipe(
          Effect.map((view) => ({ id: view.id, state: "cancelled" as const })),
          Effect.catchTags({
            JobNotFoundError: notFound,
            JobEndedError: (error) =>
              Effect.fail(new Api.JobEnded({ message: error.message })),
            JobDivergedError: diverged
          })
        ))
  }))

export const OpsHandlers = HttpApiBuilder.group(Api.Api, "ops", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const engine = yield* CryptoEngine
    const config = yield* ServiceConfig
    const telemetry = yield* Telemetry
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

/** `GET /`: to the Swagger UI (with the links in the body, for curl). */
export const Index = HttpRouter.add(
  "GET",
  "/",
  HttpServerResponse.jsonUnsafe({ docs: "/docs/ui", openapi: "/docs" }, {
    status: 302,
    headers: { location: "/docs/ui" }
  })
)
