/**
 * The load itself: `concurrency` clients sending `POST /jobs?wait=true` until
 * `requests` jobs have finished, retrying each 503 (pool full) after the
 * delay its `Retry-After` header advertises.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Operation from "../engine/Operation.js"
import * as Stats from "./Stats.js"

export interface Options {
  /** The service's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  readonly op: Operation.Op
  /** Jobs to finish (503s are retried, so they do not count). */
  readonly requests: number
  /** Requests in flight at once. */
  readonly concurrency: number
  /** Bytes of `data` for the hash and sign operations; default 1024. */
  readonly size?: number | undefined
  /** scrypt's N; default 16384. */
  readonly scryptN?: number | undefined
  /** Called after each request ends, with the number ended so far. */
  readonly onProgress?: ((done: number) => void) | undefined
}

/**
 * A finished run.
 */
export interface Report extends Stats.Summary {
  /** Up to five distinct failure descriptions, for the operator. */
  readonly errors: ReadonlyArray<string>
}

/**
 * The delay used when a 503 carries no usable `Retry-After`.
 */
export const defaultRetryAfter: Duration.Duration = Duration.millis(100)

/**
 * The JSON body loadgen sends for an operation: `{ "op": ..., ...inputs }`.
 */
export const requestBody = (
  op: Operation.Op,
  options: { readonly size?: number | undefined; readonly scryptN?: number | undefined } = {}
): Operation.Request => {
  if (op === "scrypt") {
    return { op, password: "correct horse battery staple", salt: "loadgen", N: options.scryptN ?? 16384 }
  }
  return { op, data: "x".repeat(options.size ?? 1024) }
}

/**
 * Parses a `Retry-After` value: delay-seconds (fractions accepted) or an
 * HTTP-date. `undefined` when absent or unreadable. Never negative.
 */
export const parseRetryAfter = (value: string | undefined, nowMs: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Duration.millis(Number(trimmed) * 1000)
  // an HTTP-date names its day and month; refuse what only Date.parse would read ("-1" is year -1)
  const date = /^[A-Za-z]{3}, /.test(trimmed) ? Date.parse(trimmed) : Number.NaN
  if (Number.isNaN(date)) return undefined
  return Duration.millis(Math.max(0, date - nowMs))
}

const Finished = Schema.Struct({
  id: Schema.Union([Schema.String, Schema.Number]),
  state: Schema.Literal("finished"),
  result: Operation.Result
})
const decodeFinished = Schema.decodeUnknownResult(Schema.fromJsonString(Finished))

type Attempt =
  | { readonly _tag: "Finished" }
  | { readonly _tag: "Busy"; readonly retryAfter: Duration.Duration }
  | { readonly _tag: "Failed"; readonly reason: string }

const snippet = (text: string) => text.length > 200 ? `${text.slice(0, 200)}…` : text

/**
 * Runs the load and summarises it. Never fails: failed requests are counted
 * and described in the report.
 */
export const run = (options: Options): Effect.Effect<Report, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const endpoint = new URL("/jobs?wait=true", options.url).toString()
    const request = HttpClientRequest.post(endpoint).pipe(
      HttpClientRequest.bodyJsonUnsafe(requestBody(options.op, options))
    )

    const attempt: Effect.Effect<Attempt> = client.execute(request).pipe(
      Effect.flatMap((response) =>
        Effect.map(response.text, (text): Attempt => {
          if (response.status === 503) {
            const retryAfter = parseRetryAfter(response.headers["retry-after"], Date.now())
            return { _tag: "Busy", retryAfter: retryAfter ?? defaultRetryAfter }
          }
          if (response.status !== 200) return { _tag: "Failed", reason: `HTTP ${response.status}: ${snippet(text)}` }
          const body = decodeFinished(text)
          if (Result.isFailure(body)) return { _tag: "Failed", reason: `unexpected 200 body: ${body.failure.message}` }
          if (body.success.result.op !== options.op) {
            return { _tag: "Failed", reason: `asked for ${options.op}, got a result for ${body.success.result.op}` }
          }
          return { _tag: "Finished" }
        })
      ),
      Effect.catch((error) => Effect.succeed<Attempt>({ _tag: "Failed", reason: error.message }))
    )

    const latenciesMs: Array<number> = []
    const errors = new Set<string>()
    let failed = 0
    let rejected = 0
    let started = 0
    let ended = 0

    const oneRequest = Effect.gen(function*() {
      const start = yield* Clock.currentTimeNanos
      while (true) {
        const outcome = yield* attempt
        if (outcome._tag === "Busy") {
          rejected++
          yield* Effect.sleep(outcome.retryAfter)
          continue
        }
        if (outcome._tag === "Finished") {
          latenciesMs.push(Number((yield* Clock.currentTimeNanos) - start) / 1e6)
        } else {
          failed++
          if (errors.size < 5) errors.add(outcome.reason)
        }
        ended++
        options.onProgress?.(ended)
        return
      }
    })

    // each client takes the next request until none are left
    const loop = Effect.whileLoop({
      while: () => started < options.requests,
      body: () => {
        started++
        return oneRequest
      },
      step: () => {}
    })

    const begin = yield* Clock.currentTimeNanos
    yield* Effect.all(
      Array.from({ length: Math.max(1, Math.min(options.concurrency, options.requests)) }, () => loop),
      {
        concurrency: "unbounded",
        discard: true
      }
    )
    const elapsedMs = Number((yield* Clock.currentTimeNanos) - begin) / 1e6
    return { ...Stats.summarize({ latenciesMs, failed, rejected, elapsedMs }), errors: Array.from(errors) }
  })
