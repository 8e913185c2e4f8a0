/**
 * The service's configuration, read from the environment through Effect
 * `Config`. Every setting has a default, so `pnpm start` needs nothing.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `PORT` | `8080` | TCP port to listen on (0: any free port) |
 * | `HOST` | `127.0.0.1` | address to listen on |
 * | `POOL_MAX` | `1024` | most jobs outstanding (running + paused) at once; beyond it `POST /jobs` answers 503 |
 * | `POOL_INIT` | `0` | job records created at start (≤ `POOL_MAX`) |
 * | `RESULT_TTL` | `5 minutes` | how long an ended job (its result) is kept: seconds, or a duration such as `30 seconds` |
 * | `RESULT_MAX` | `10000` | most ended jobs kept; the oldest are forgotten first |
 * | `MAX_BODY_BYTES` | `1114112` (1 MiB + 64 KiB) | largest `POST /jobs` body; larger answers 413 |
 * | `RESULT_MAX_BYTES` | `33554432` (32 MiB) | most bytes of ended jobs' results and errors kept; the oldest are forgotten first |
 * | `RETRY_AFTER` | `1` | seconds advertised in the `Retry-After` header of a 503 |
 * | `MAX_CONNECTIONS` | `256` | most open TCP connections; beyond it new connections are closed at once |
 * | `MAX_BUFFERED_BYTES` | `67108864` (64 MiB) | most request body bytes read or reserved at once, over all requests; beyond it 503 `Overloaded` |
 * | `MAX_HEADER_BYTES` | `16384` | largest request line and headers; larger answers 431 `HeadersTooLarge` |
 * | `HEADERS_TIMEOUT` | `10 seconds` | time to receive a request's line and headers; then 408 `RequestTimeout` |
 * | `REQUEST_TIMEOUT` | `30 seconds` | time to receive a whole request, body included (≥ `HEADERS_TIMEOUT`); then 408 |
 * | `IDLE_TIMEOUT` | `5 seconds` | how long an idle keep-alive connection stays open |
 * | `SHUTDOWN_GRACE` | `10 seconds` | on SIGTERM/SIGINT, how long outstanding jobs may still finish before they are cancelled |
 * | `ALLOWED_ORIGINS` | (none) | comma-separated origins (`https://app.example`) allowed to call the service from a browser (CORS); other cross-origin requests answer 403 |
 * | `AUTH_TOKEN` | (none) | when set, `/jobs` and `/metrics` require `Authorization: Bearer <AUTH_TOKEN>` (401 otherwise) |
 * | `ENGINE` | `threads` | `threads` (worker pool) or `inline` (crypto on the request thread), see `CryptoEngine.layerConfig` |
 * | `ENGINE_THREADS` | number of cores | worker threads of the engine, see `CryptoEngine.layerConfig` |
 * | `METRICS_EXPORTER` | `prometheus` | where metrics go, comma-separated: `prometheus` (served as text at `/metrics`), `otlp` (pushed over OTLP/HTTP), or `none` |
 * | `METRICS_EXPORT_INTERVAL` | `60 seconds` | with `otlp`: how often metrics are pushed (and once more at shutdown) |
 * | `TRACES_EXPORTER` | `none` | `otlp`: spans (HTTP requests, job starts and resumes) are pushed over OTLP/HTTP; `none`: no tracer at all |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` | the OTLP/HTTP collector; metrics go to `/v1/metrics`, spans to `/v1/traces` under it |
 * | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | (from the above) | a signal's whole URL, instead of the path under `OTEL_EXPORTER_OTLP_ENDPOINT` |
 * | `OTEL_SERVICE_NAME` | `async-job-offload-service` | the `service.name` the exports carry (`OTEL_RESOURCE_ATTRIBUTES` adds attributes) |
 *
 * **Details**
 *
 * `MAX_BODY_BYTES` exceeds 1 MiB on purpose: `data` may hold 1 MiB of UTF-8,
 * and the JSON around it (`{"op":"ecdsa-p256-sign","data":"…"}`) adds a few
 * dozen bytes, so a limit of exactly 1 MiB would refuse the largest valid
 * `data`. The extra 64 KiB leaves room for that envelope and for some JSON
 * escapes; a `data` made mostly of characters that JSON must escape (quotes,
 * backslashes, control characters) can still exceed the limit.
 *
 * The OpenTelemetry variables keep the meaning the OpenTelemetry specification
 * gives them; the OTLP exporters also read its other variables themselves
 * (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION`). See
 * `Telemetry` for what each exporter does.
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Operation from "./engine/Operation.js"

export interface ServiceConfig {
  readonly port: number
  readonly host: string
  readonly poolMax: number
  readonly poolInit: number
  readonly resultTtl: Duration.Duration
  readonly resultMax: number
  readonly maxBodyBytes: number
  readonly retryAfterSeconds: number
  /** Most bytes of results and errors kept for ended jobs. */
  readonly resultMaxBytes: number
  /** Most open TCP connections. */
  readonly maxConnections: number
  /** Most request body bytes read or reserved at once, over all requests. */
  readonly maxBufferedBytes: number
  /** Largest request line plus headers, in bytes. */
  readonly maxHeaderBytes: number
  /** Time to receive a request's line and headers. */
  readonly headersTimeout: Duration.Duration
  /** Time to receive a whole request, body included. */
  readonly requestTimeout: Duration.Duration
  /** How long an idle keep-alive connection stays open. */
  readonly idleTimeout: Duration.Duration
  /** At shutdown, how long outstanding jobs may still finish before they are cancelled. */
  readonly shutdownGrace: Duration.Duration
  /** Origins allowed to call the service from a browser; other cross-origin requests are refused. */
  readonly allowedOrigins: ReadonlyArray<string>
  /** When set, the bearer token `/jobs` and `/metrics` require. */
  readonly authToken: Option.Option<Redacted.Redacted>
  /** Where metrics go: served as Prometheus text at `/metrics`, pushed over OTLP, both, or (empty) nowhere. */
  readonly metricsExporters: ReadonlyArray<MetricsExporter>
  /** With the `otlp` metrics exporter: how often metrics are pushed. */
  readonly metricsExportInterval: Duration.Duration
  /** `otlp`: spans are pushed over OTLP; `none`: no tracer is installed. */
  readonly tracesExporter: TracesExporter
  /** The URL OTLP metrics are posted to. */
  readonly otlpMetricsEndpoint: string
  /** The URL OTLP spans are posted to. */
  readonly otlpTracesEndpoint: string
  /** The `service.name` of the exported metrics and spans. */
  readonly serviceName: string
}

/**
 * A metrics exporter: `prometheus` serves the text format at `/metrics`,
 * `otlp` pushes metrics to an OpenTelemetry collector.
 */
export type MetricsExporter = "prometheus" | "otlp"

/**
 * The traces exporter: `otlp` pushes spans to an OpenTelemetry collector;
 * `none` installs no tracer.
 */
export type TracesExporter = "none" | "otlp"

export const ServiceConfig: Context.Service<ServiceConfig, ServiceConfig> = Context.Service<ServiceConfig>(
  "@async-job/offload-service/ServiceConfig"
)

/**
 * The default body limit: 1 MiB of `data` plus 64 KiB for the JSON around it.
 */
export const defaultMaxBodyBytes = Operation.maxInputBytes + 64 * 1024

/**
 * The default OTLP/HTTP collector, as the OpenTelemetry specification sets it.
 */
export const defaultOtlpEndpoint = "http://localhost:4318"

/**
 * The defaults, as `pnpm start` runs with an empty environment.
 */
export const defaults: ServiceConfig = {
  port: 8080,
  host: "127.0.0.1",
  poolMax: 1024,
  poolInit: 0,
  resultTtl: Duration.minutes(5),
  resultMax: 10_000,
  maxBodyBytes: defaultMaxBodyBytes,
  retryAfterSeconds: 1,
  resultMaxBytes: 32 * 1024 * 1024,
  maxConnections: 256,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30),
  idleTimeout: Duration.seconds(5),
  shutdownGrace: Duration.seconds(10),
  allowedOrigins: [],
  authToken: Option.none(),
  metricsExporters: ["prometheus"],
  metricsExportInterval: Duration.seconds(60),
  tracesExporter: "none",
  otlpMetricsEndpoint: `${defaultOtlpEndpoint}/v1/metrics`,
  otlpTracesEndpoint: `${defaultOtlpEndpoint}/v1/traces`,
  serviceName: "async-job-offload-service"
}

/** A configuration failure with this message. */
const invalid = (message: string) =>
  new Config.ConfigError(new Schema.SchemaError(new SchemaIssue.InvalidValue({ message })))

/** A config that fails with `message` unless `valid` holds of its value. */
const validate = <A>(message: string, valid: (a: A) => boolean) =>
  Config.mapEffect((a: A) => valid(a) ? Effect.succeed(a) : Effect.fail(invalid(message)))

const atLeast = (name: string, min: number, fallback: number) =>
  Config.Int(name).pipe(
    validate(`${name} must be an integer ≥ ${min}`, (n: number) => n >= min),
    Config.withDefault(fallback)
  )

const decodeDuration = Schema.decodeUnknownOption(Schema.DurationFromString)

/** Seconds as a number ("30", "0.5"), or a duration such as "30 seconds" (what `Duration.fromInput` reads). */
const duration = (name: string, fallback: Duration.Duration) =>
  Config.String(name).pipe(
    Config.mapEffect((text) => {
      const trimmed = text.trim()
      if (/^\d+(\.\d+)?$/.test(trimmed)) return Effect.succeed(Duration.millis(Number(trimmed) * 1000))
      return Option.match(decodeDuration(trimmed), {
        onNone: () => Effect.fail(invalid(`${name} must be seconds or a duration such as "30 seconds", got "${text}"`)),
        onSome: Effect.succeed
      })
    }),
    Config.withDefault(fallback)
  )

const metricsExporters = Config.String("METRICS_EXPORTER").pipe(
  Config.mapEffect((text) => {
    const names = text.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name.length > 0)
    if (names.length === 1 && names[0] === "none") return Effect.succeed<ReadonlyArray<MetricsExporter>>([])
    const known = names.filter((name): name is MetricsExporter => name === "prometheus" || name === "otlp")
    if (names.length === 0 || known.length < names.length) {
      return Effect.fail(
        invalid(`METRICS_EXPORTER must be prometheus, otlp, both (prometheus,otlp) or none, got "${text}"`)
      )
    }
    return Effect.succeed<ReadonlyArray<MetricsExporter>>(Array.from(new Set(known)))
  }),
  Config.withDefault(defaults.metricsExporters)
)

/** An absolute http(s) URL. */
const httpUrl = (name: string) =>
  Config.String(name).pipe(
    Config.mapEffect((text) => {
      const url = URL.canParse(text.trim()) ? new URL(text.trim()) : undefined
      return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
        ? Effect.succeed(url.href)
        : Effect.fail(invalid(`${name} must be an http:// or https:// URL, got "${text}"`))
    })
  )

/** The OTLP/HTTP URL of a signal: its own variable, or its path under OTEL_EXPORTER_OTLP_ENDPOINT. */
const otlpEndpoints = Config.all({
  base: httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDefault(defaultOtlpEndpoint)),
  metrics: Config.option(httpUrl("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")),
  traces: Config.option(httpUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}).pipe(Config.map(({ base, metrics, traces }) => {
  const under = (path: string) => `${base.replace(/\/+$/, "")}/${path}`
  return {
    metrics: Option.getOrElse(metrics, () => under("v1/metrics")),
    traces: Option.getOrElse(traces, () => under("v1/traces"))
  }
}))

const tracesExporter = Config.String("TRACES_EXPORTER").pipe(
  Config.mapEffect((text) =>
    text === "none" || text === "otlp"
      ? Effect.succeed<TracesExporter>(text)
      : Effect.fail(invalid(`TRACES_EXPORTER must be none or otlp, got "${text}"`))
  ),
  Config.withDefault(defaults.tracesExporter)
)

/**
 * The configuration read from the environment, with the defaults above.
 */
export const config: Config.Config<ServiceConfig> = Config.all({
  port: Config.Int("PORT").pipe(
    validate("PORT must be an integer from 0 to 65535", (n: number) => n >= 0 && n <= 65535),
    Config.withDefault(defaults.port)
  ),
  host: Config.String("HOST").pipe(Config.withDefault(defaults.host)),
  poolMax: atLeast("POOL_MAX", 1, defaults.poolMax),
  poolInit: atLeast("POOL_INIT", 0, defaults.poolInit),
  resultTtl: duration("RESULT_TTL", defaults.resultTtl),
  resultMax: atLeast("RESULT_MAX", 0, defaults.resultMax),
  maxBodyBytes: atLeast("MAX_BODY_BYTES", 1, defaults.maxBodyBytes),
  retryAfterSeconds: atLeast("RETRY_AFTER", 0, defaults.retryAfterSeconds),
  resultMaxBytes: atLeast("RESULT_MAX_BYTES", 0, defaults.resultMaxBytes),
  maxConnections: atLeast("MAX_CONNECTIONS", 1, defaults.maxConnections),
  maxBufferedBytes: atLeast("MAX_BUFFERED_BYTES", 1, defaults.maxBufferedBytes),
  maxHeaderBytes: atLeast("MAX_HEADER_BYTES", 1024, defaults.maxHeaderBytes),
  headersTimeout: duration("HEADERS_TIMEOUT", defaults.headersTimeout),
  requestTimeout: duration("REQUEST_TIMEOUT", defaults.requestTimeout),
  idleTimeout: duration("IDLE_TIMEOUT", defaults.idleTimeout),
  shutdownGrace: duration("SHUTDOWN_GRACE", defaults.shutdownGrace),
  allowedOrigins: Config.String("ALLOWED_ORIGINS").pipe(
    Config.map((text): ReadonlyArray<string> =>
      text.split(",").map((origin) => origin.trim()).filter((origin) => origin.length > 0)
    ),
    Config.withDefault(defaults.allowedOrigins)
  ),
  authToken: Config.option(Config.Redacted("AUTH_TOKEN")),
  metricsExporters,
  metricsExportInterval: duration("METRICS_EXPORT_INTERVAL", defaults.metricsExportInterval),
  tracesExporter,
  otlp: otlpEndpoints,
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(
    validate("OTEL_SERVICE_NAME must not be empty", (name: string) => name.trim().length > 0),
    Config.withDefault(defaults.serviceName)
  )
}).pipe(
  Config.map(({ otlp, ...rest }): ServiceConfig => ({
    ...rest,
    otlpMetricsEndpoint: otlp.metrics,
    otlpTracesEndpoint: otlp.traces
  })),
  validate("POOL_INIT must not exceed POOL_MAX", (config: ServiceConfig) => config.poolInit <= config.poolMax),
  validate(
    "HEADERS_TIMEOUT must not exceed REQUEST_TIMEOUT, and neither may be 0",
    (config: ServiceConfig) =>
      Duration.toMillis(config.headersTimeout) >= 1 &&
      Duration.isLessThanOrEqualTo(config.headersTimeout, config.requestTimeout)
  ),
  validate(
    "METRICS_EXPORT_INTERVAL must be at least 1 millisecond",
    (config: ServiceConfig) => Duration.toMillis(config.metricsExportInterval) >= 1
  )
)

/**
 * Provides the configuration read from the environment.
 */
export const layerConfig: Layer.Layer<ServiceConfig, Config.ConfigError> = Layer.effect(ServiceConfig, config)

/**
 * Provides the defaults overridden by `overrides` (tests, embedding).
 */
export const layer = (overrides: Partial<ServiceConfig> = {}): Layer.Layer<ServiceConfig> =>
  Layer.succeed(ServiceConfig, { ...defaults, ...overrides })
