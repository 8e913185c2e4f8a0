import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ServiceConfig from "../src/config.js"

const load = (env: Record<string, string>) =>
  Effect.provideService(ServiceConfig.config, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("ServiceConfig", () => {
  it.effect("an empty environment gives the defaults: 127.0.0.1:8080, a pool of 1024", () =>
    Effect.gen(function*() {
      const config = yield* load({})
      deepStrictEqual(config, ServiceConfig.defaults)
      deepStrictEqual([config.host, config.port, config.poolMax], ["127.0.0.1", 8080, 1024])
      // a maximal data (1 MiB) fits with its JSON envelope
      assertTrue(config.maxBodyBytes > 1024 * 1024 + 64)
    }))

  it.effect("reads every variable", () =>
    Effect.gen(function*() {
      const config = yield* load({
        PORT: "0",
        HOST: "::1",
        POOL_MAX: "2",
        POOL_INIT: "2",
        RESULT_TTL: "30 seconds",
        RESULT_MAX: "5",
        MAX_BODY_BYTES: "100",
        RETRY_AFTER: "3",
        RESULT_MAX_BYTES: "1000",
        MAX_CONNECTIONS: "7",
        MAX_BUFFERED_BYTES: "4096",
        MAX_HEADER_BYTES: "2048",
        HEADERS_TIMEOUT: "2",
        REQUEST_TIMEOUT: "3 seconds",
        IDLE_TIMEOUT: "0.5",
        SHUTDOWN_GRACE: "0",
        ALLOWED_ORIGINS: "https://a.example, http://localhost:3000",
        AUTH_TOKEN: "s3cret",
        METRICS_EXPORTER: "otlp, prometheus",
        METRICS_EXPORT_INTERVAL: "15 seconds",
        TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example:4318/",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces.example/ingest",
        OTEL_SERVICE_NAME: "offload-eu",
        ALLOWED_HOSTS: "Offload.example, proxy.example:443",
        MAX_QUEUED_BYTES: "2048",
        ENGINE: "inline",
        ENGINE_THREADS: "3",
        DURABLE: "sqlite:/tmp/jobs.db",
        RUNNER_HOST: "10.1.2.3",
        RUNNER_PORT: "9999"
      })
      const { authToken, ...rest } = config
      strictEqual(Option.map(authToken, Redacted.value).pipe(Option.getOrUndefined), "s3cret")
      deepStrictEqual(rest, {
        port: 0,
        host: "::1",
        poolMax: 2,
        poolInit: 2,
        resultTtl: Duration.seconds(30),
        resultMax: 5,
        maxBodyBytes: 100,
        retryAfterSeconds: 3,
        resultMaxBytes: 1000,
        maxConnections: 7,
        maxBufferedBytes: 4096,
        maxHeaderBytes: 2048,
        headersTimeout: Duration.seconds(2),
        requestTimeout: Duration.seconds(3),
        idleTimeout: Duration.millis(500),
        shutdownGrace: Duration.zero,
        allowedOrigins: ["https://a.example", "http://localhost:3000"],
        allowedHosts: ["offload.example", "proxy.example:443"],
        maxQueuedBytes: 2048,
        engine: "inline",
        engineThreads: 3,
        durable: "sqlite:/tmp/jobs.db",
        runnerHost: "10.1.2.3",
        runnerPort: 9999,
        metricsExporters: ["otlp", "prometheus"],
        metricsExportInterval: Duration.seconds(15),
        tracesExporter: "otlp",
        // the metrics under the base endpoint, the traces at their own URL
        otlpMetricsEndpoint: "https://collector.example:4318/v1/metrics",
        otlpTracesEndpoint: "http://traces.example/ingest",
        serviceName: "offload-eu"
      })
    }))

  it.effect("METRICS_EXPORTER=none: no metrics exporter; the OTLP paths go under OTEL_EXPORTER_OTLP_ENDPOINT", () =>
    Effect.gen(function*() {
      const config = yield* load({ METRICS_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://10.0.0.5:4318" })
      deepStrictEqual(config.metricsExporters, [])
      deepStrictEqual([config.otlpMetricsEndpoint, config.otlpTracesEndpoint], [
        "http://10.0.0.5:4318/v1/metrics",
        "http://10.0.0.5:4318/v1/traces"
      ])
      // the defaults: Prometheus text at /metrics, no tracer
      deepStrictEqual([ServiceConfig.defaults.metricsExporters, ServiceConfig.defaults.tracesExporter], [
        ["prometheus"],
        "none"
      ])
    }))

  it.effect("RESULT_TTL in plain seconds", () =>
    Effect.gen(function*() {
      deepStrictEqual((yield* load({ RESULT_TTL: "1.5" })).resultTtl, Duration.millis(1500))
    }))

  it.effect("refuses invalid values", () =>
    Effect.gen(function*() {
      for (
        const env of [
          { POOL_MAX: "0" },
          { POOL_MAX: "many" },
          { POOL_MAX: "2", POOL_INIT: "3" },
          { PORT: "70000" },
          { RESULT_TTL: "soon" },
          { RESULT_MAX: "-1" },
          { HEADERS_TIMEOUT: "20", REQUEST_TIMEOUT: "10" },
          { HEADERS_TIMEOUT: "0" },
          { MAX_CONNECTIONS: "0" },
          { METRICS_EXPORTER: "statsd" },
          { METRICS_EXPORTER: "none,otlp" },
          { METRICS_EXPORTER: " , " },
          { METRICS_EXPORT_INTERVAL: "0" },
          { TRACES_EXPORTER: "jaeger" },
          { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" },
          { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector" },
          { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "not a url" },
          { OTEL_SERVICE_NAME: " " },
          { MAX_QUEUED_BYTES: "0" },
          { ENGINE: "gpu" },
          { ENGINE_THREADS: "0" },
          { DURABLE: "mysql://x" },
          { DURABLE: "sqlite:" },
          { RUNNER_PORT: "-1" }
        ]
      ) {
        assertTrue(Exit.isFailure(yield* Effect.exit(load(env))), JSON.stringify(env))
      }
    }))
})
