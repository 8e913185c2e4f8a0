/**
 * The service's configuration, read from the environment through Effect
 * `Config`: the one source of every setting. {@link settings} lists each
 * variable with its default and meaning; the README's settings table (and
 * the docs' offload guide) is generated from it (`pnpm --filter
 * @async-job/offload-service settings` writes `settings.md`, and a test checks
 * that the README carries the same table). Every setting has a default, so
 * `pnpm start` needs nothing.
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
 * `telemetry.ts` for what each exporter does.
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
import * as Os from "node:os"
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
  /** Host names (the `Host` header, without its port) requests may name besides the loopback names. */
  readonly allowedHosts: ReadonlyArray<string>
  /** Most bytes of input held by jobs accepted and not yet ended. */
  readonly maxQueuedBytes: number
  /** `threads` (worker threads) or `inline` (crypto on the request thread). */
  readonly engine: "threads" | "inline"
  /** Worker threads of the `threads` engine. */
  readonly engineThreads: number
  /** `sqlite:<file>` or `postgres://…`: durable jobs; undefined, in memory. */
  readonly durable: string | undefined
  /** With `DURABLE=postgres://…`: the address other runners reach this one at. */
  readonly runnerHost: string
  /** With `DURABLE=postgres://…`: this runner's port; 0, a free one picked at start. */
  readonly runnerPort: number
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
  allowedHosts: [],
  maxQueuedBytes: 64 * 1024 * 1024,
  engine: "threads",
  engineThreads: Os.availableParallelism(),
  durable: undefined,
  runnerHost: "127.0.0.1",
  runnerPort: 0,
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

/** A comma-separated list, trimmed, empty items dropped. */
const list = (name: string, fallback: ReadonlyArray<string>) =>
  Config.String(name).pipe(
    Config.map((text): ReadonlyArray<string> =>
      text.split(",").map((item) => item.trim()).filter((item) => item.length > 0)
    ),
    Config.withDefault(fallback)
  )

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

/** `ENGINE` and `ENGINE_THREADS`, which `CryptoEngine.layerConfig` reads on its own too. */
export const engineConfig = {
  engine: Config.String("ENGINE").pipe(
    Config.mapEffect((text) =>
      text === "threads" || text === "inline"
        ? Effect.succeed<"threads" | "inline">(text)
        : Effect.fail(invalid(`ENGINE must be threads or inline, got "${text}"`))
    ),
    Config.withDefault(defaults.engine)
  ),
  engineThreads: atLeast("ENGINE_THREADS", 1, defaults.engineThreads)
}

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
  allowedOrigins: list("ALLOWED_ORIGINS", defaults.allowedOrigins),
  allowedHosts: list("ALLOWED_HOSTS", defaults.allowedHosts).pipe(
    Config.map((hosts) => hosts.map((host) => host.toLowerCase()))
  ),
  maxQueuedBytes: atLeast("MAX_QUEUED_BYTES", 1, defaults.maxQueuedBytes),
  engine: engineConfig.engine,
  engineThreads: engineConfig.engineThreads,
  durable: Config.String("DURABLE").pipe(
    Config.mapEffect((text) =>
      /^sqlite:.+/.test(text) || /^postgres(ql)?:\/\//.test(text)
        ? Effect.succeed<string | undefined>(text)
        : Effect.fail(invalid(`DURABLE must be sqlite:<file> or postgres://…, got "${text}"`))
    ),
    Config.withDefault(defaults.durable)
  ),
  runnerHost: Config.String("RUNNER_HOST").pipe(Config.withDefault(defaults.runnerHost)),
  runnerPort: Config.Int("RUNNER_PORT").pipe(
    validate("RUNNER_PORT must be an integer from 0 to 65535", (n: number) => n >= 0 && n <= 65535),
    Config.withDefault(defaults.runnerPort)
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

/** One environment variable: its name, its default as the README shows it, and what it sets. */
export interface Setting {
  readonly variable: string
  readonly default: string
  readonly meaning: string
}

/**
 * Every variable {@link config} reads (and the OTLP ones the exporters also
 * take), in the order the README's table lists them. `test/config.test.ts`
 * checks that {@link config} reads each one, and that the README and
 * `settings.md` show exactly this table.
 */
export const settings: ReadonlyArray<Setting> = [
  { variable: "PORT", default: "`8080`", meaning: "TCP port to listen on (`0`: a free port)" },
  { variable: "HOST", default: "`127.0.0.1`", meaning: "address to listen on" },
  {
    variable: "POOL_MAX",
    default: "`1024`",
    meaning: "most jobs running or paused at once; beyond it `POST /jobs` answers 503 `NoJobs`"
  },
  { variable: "POOL_INIT", default: "`0`", meaning: "job records made at start (at most `POOL_MAX`)" },
  {
    variable: "ENGINE",
    default: "`threads`",
    meaning: "the crypto engine: `threads` (worker threads) or `inline` (on the request thread)"
  },
  { variable: "ENGINE_THREADS", default: "one per core", meaning: "worker threads of the `threads` engine" },
  {
    variable: "MAX_QUEUED_BYTES",
    default: "`67108864` (64 MiB)",
    meaning: "most bytes of input (2 per character) held by jobs accepted and not yet ended; beyond it 503 `Overloaded`"
  },
  {
    variable: "RESULT_TTL",
    default: "`5 minutes`",
    meaning:
      "how long an ended job (its result, never its input) is kept for `GET /jobs/:id`, in memory and in the durable store alike"
  },
  {
    variable: "RESULT_MAX",
    default: "`10000`",
    meaning:
      "most ended jobs kept, in memory (the least recently used go first) and in the durable store (those that ended first go first)"
  },
  {
    variable: "RESULT_MAX_BYTES",
    default: "`33554432` (32 MiB)",
    meaning:
      "most bytes of ended jobs' results and errors kept in memory; the least recently used go first (durable jobs keep theirs on disk)"
  },
  {
    variable: "MAX_BODY_BYTES",
    default: "`1114112` (1 MiB + 64 KiB)",
    meaning: "largest `POST /jobs` body; larger answers 413 `PayloadTooLarge`"
  },
  {
    variable: "MAX_BUFFERED_BYTES",
    default: "`67108864` (64 MiB)",
    meaning: "most request body bytes received and held at once, over all requests; beyond it 503 `Overloaded`"
  },
  {
    variable: "MAX_CONNECTIONS",
    default: "`256`",
    meaning: "connections served at once; one beyond it gets 503 `Overloaded` (probes are answered) and is closed"
  },
  {
    variable: "MAX_HEADER_BYTES",
    default: "`16384`",
    meaning: "largest request line and headers; larger answers 431 `HeadersTooLarge`"
  },
  {
    variable: "HEADERS_TIMEOUT",
    default: "`10 seconds`",
    meaning: "time to receive a request's line and headers; then 408 `RequestTimeout`"
  },
  {
    variable: "REQUEST_TIMEOUT",
    default: "`30 seconds`",
    meaning: "time to receive a whole request, body included (at least `HEADERS_TIMEOUT`); then 408"
  },
  { variable: "IDLE_TIMEOUT", default: "`5 seconds`", meaning: "how long an idle keep-alive connection stays open" },
  {
    variable: "SHUTDOWN_GRACE",
    default: "`10 seconds`",
    meaning: "on SIGTERM/SIGINT, how long outstanding jobs may still finish before they are cancelled"
  },
  {
    variable: "ALLOWED_HOSTS",
    default: "(none)",
    meaning:
      "comma-separated host names a request's `Host` may name besides the loopback names and `HOST`; others answer 421 `MisdirectedRequest`"
  },
  {
    variable: "ALLOWED_ORIGINS",
    default: "(none)",
    meaning:
      "comma-separated origins a browser page may call from (CORS); other cross-origin requests answer 403 `CrossOrigin`"
  },
  {
    variable: "AUTH_TOKEN",
    default: "(none)",
    meaning: "when set, `/jobs` and `/metrics` require `Authorization: Bearer <AUTH_TOKEN>` (401 `Unauthorized`)"
  },
  { variable: "RETRY_AFTER", default: "`1`", meaning: "seconds in the `Retry-After` header of a 503" },
  {
    variable: "DURABLE",
    default: "(none)",
    meaning: "`sqlite:<file>` or `postgres://…`: durable jobs that survive a restart; unset, in memory"
  },
  {
    variable: "RUNNER_HOST",
    default: "`127.0.0.1`",
    meaning: "with `DURABLE=postgres://…`: the address other service processes reach this one's runner at"
  },
  {
    variable: "RUNNER_PORT",
    default: "`0`",
    meaning: "with `DURABLE=postgres://…`: this process's runner port (`0`: a free port picked at start)"
  },
  {
    variable: "METRICS_EXPORTER",
    default: "`prometheus`",
    meaning:
      "where metrics go: `prometheus` (text at `/metrics`), `otlp` (pushed), `prometheus,otlp`, or `none` (`/metrics` answers 404)"
  },
  {
    variable: "METRICS_EXPORT_INTERVAL",
    default: "`60 seconds`",
    meaning: "with `otlp`: how often metrics are pushed (and once more on stopping)"
  },
  {
    variable: "TRACES_EXPORTER",
    default: "`none`",
    meaning: "`otlp`: HTTP request and job spans are pushed; `none`: no tracer is installed"
  },
  {
    variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "`http://localhost:4318`",
    meaning: "the OTLP/HTTP collector: metrics go to `/v1/metrics` under it, spans to `/v1/traces`"
  },
  {
    variable: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    default: "(from the above)",
    meaning: "the whole URL metrics are posted to"
  },
  {
    variable: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    default: "(from the above)",
    meaning: "the whole URL spans are posted to"
  },
  {
    variable: "OTEL_SERVICE_NAME",
    default: "`async-job-offload-service`",
    meaning: "the exports' `service.name` (`OTEL_RESOURCE_ATTRIBUTES` adds attributes)"
  }
]

/** {@link settings} as a markdown table: what `settings.md` holds and the README embeds. */
export const settingsTable = (): string =>
  [
    "| variable | default | meaning |",
    "| --- | --- | --- |",
    ...settings.map((setting) => `| \`${setting.variable}\` | ${setting.default} | ${setting.meaning} |`),
    "",
    "Durations are seconds (`0.5`) or text (`30 seconds`)."
  ].join("\n") + "\n"
