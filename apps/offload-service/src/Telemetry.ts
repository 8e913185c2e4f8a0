/**
 * The service's metrics and traces, exported through OpenTelemetry with
 * `@effect/opentelemetry`: every Effect metric of the process (the core's
 * `async_job_*` series, the service's `offload_*` series) goes to the
 * exporters `METRICS_EXPORTER` names, and with `TRACES_EXPORTER=otlp` every
 * span (the platform's HTTP request spans, the core's `AsyncJob.start` and
 * `AsyncJob.resume` spans) goes to an OTLP collector.
 *
 * **Details**
 *
 * | setting | what runs |
 * |---|---|
 * | `METRICS_EXPORTER=prometheus` (default) | a `PrometheusExporter` as a pull `MetricReader`, without a server of its own: `GET /metrics` collects through it and answers the Prometheus text format |
 * | `METRICS_EXPORTER=otlp` | a `PeriodicExportingMetricReader` posting OTLP/HTTP JSON to `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` every `METRICS_EXPORT_INTERVAL`, and once more when the service stops |
 * | `METRICS_EXPORTER=prometheus,otlp` | both |
 * | `METRICS_EXPORTER=none` | no reader: `GET /metrics` answers 404 `NotFound` |
 * | `TRACES_EXPORTER=otlp` | a tracer provider with a batch span processor posting to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` |
 * | `TRACES_EXPORTER=none` (default) | no tracer is installed, so the core makes no job spans at all |
 *
 * The crypto engine's counts (queue, requests in a worker, requests ended,
 * worker crashes) are copied into their metrics at each collection, whichever
 * reader collects.
 *
 * **Gotchas**
 *
 * Effect's metric registry is process-wide, and so are the exports: every
 * metric the process has recorded is exported, not only the service's.
 *
 * @since 0.1.0
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import type { MetricProducer, MetricReader } from "@opentelemetry/sdk-metrics"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Arr from "effect/Array"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { CryptoEngine } from "./CryptoEngine.js"
import { ServiceConfig } from "./ServiceConfig.js"

/**
 * The content type of the Prometheus text format `GET /metrics` answers.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * How long stopping the service waits for the exporters' last export.
 *
 * @since 0.1.0
 * @category constants
 */
export const shutdownTimeout: Duration.Duration = Duration.seconds(5)

/**
 * @since 0.1.0
 * @category models
 */
export interface Telemetry {
  /**
   * Collects every metric and renders it as Prometheus text: `Some` when the
   * `prometheus` metrics exporter is on, `None` otherwise.
   */
  readonly prometheus: Option.Option<Effect.Effect<string>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Telemetry: Context.Tag<Telemetry, Telemetry> = Context.GenericTag<Telemetry>(
  "@async-job/offload-service/Telemetry"
)

// ---------------------------------------------------------------------------
// the engine's counts, as metrics

const engineQueued = Metric.gauge("offload_engine_queued", { description: "Engine requests waiting for a worker" })
const engineInFlight = Metric.gauge("offload_engine_in_flight", { description: "Engine requests in a worker" })
const engineRequests = Metric.counter("offload_engine_requests_total", {
  description: "Engine requests ended, by outcome (succeeded, failed, cancelled)",
  incremental: true
})
const engineCrashes = Metric.counter("offload_engine_worker_crashes_total", {
  description: "Engine worker threads that died and were replaced",
  incremental: true
})

/** Copies the engine's counts into Effect metrics (the counters by their increase since the last copy). */
const engineMetrics = (engine: CryptoEngine) => {
  const seen = { succeeded: 0, failed: 0, cancelled: 0, workerCrashes: 0 }
  const outcome = {
    succeeded: Metric.tagged(engineRequests, "outcome", "succeeded"),
    failed: Metric.tagged(engineRequests, "outcome", "failed"),
    cancelled: Metric.tagged(engineRequests, "outcome", "cancelled")
  }
  return (): void => {
    const stats = engine.unsafeStats()
    engineQueued.unsafeUpdate(stats.queued, [])
    engineInFlight.unsafeUpdate(stats.inFlight, [])
    for (const key of ["succeeded", "failed", "cancelled"] as const) {
      outcome[key].unsafeUpdate(stats[key] - seen[key], [])
      seen[key] = stats[key]
    }
    engineCrashes.unsafeUpdate(stats.workerCrashes - seen.workerCrashes, [])
    seen.workerCrashes = stats.workerCrashes
  }
}

// ---------------------------------------------------------------------------
// layers

/** The resource (`service.name`) and, with `TRACES_EXPORTER=otlp`, the tracer. */
const SdkLive = NodeSdk.layer(Effect.map(ServiceConfig, (config): NodeSdk.Configuration => ({
  resource: { serviceName: config.serviceName },
  shutdownTimeout,
  spanProcessor: config.tracesExporter === "otlp"
    ? new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpTracesEndpoint }))
    : undefined
})))

const make = Effect.gen(function*() {
  const config = yield* ServiceConfig
  const refresh = engineMetrics(yield* CryptoEngine)
  const readers: Array<MetricReader> = []
  // a pull reader with no server of its own (no second port): GET /metrics collects through it
  const prometheus = config.metricsExporters.includes("prometheus")
    ? new PrometheusExporter({ preventServerStart: true })
    : undefined
  if (prometheus !== undefined) readers.push(prometheus)
  if (config.metricsExporters.includes("otlp")) {
    const interval = Math.max(1, Math.round(Duration.toMillis(config.metricsExportInterval)))
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: config.otlpMetricsEndpoint }),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, 30_000)
      })
    )
  }
  if (Arr.isNonEmptyArray(readers)) {
    // Effect's producer (every metric of the registry), with the engine's counts brought up to date first;
    // the readers are shut down (the periodic one exports a last time) when the scope closes
    const effectMetrics = yield* OtelMetrics.makeProducer
    const producer: MetricProducer = {
      collect: (options) => {
        refresh()
        return effectMetrics.collect(options)
      }
    }
    yield* OtelMetrics.registerProducer(producer, () => readers)
  }
  // no scope info label on each series, as Prometheus itself would not add one; target_info carries the resource
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
  return Telemetry.of({
    prometheus: Option.fromNullable(prometheus).pipe(
      Option.map((reader) =>
        Effect.map(
          Effect.promise(() => reader.collect()),
          ({ resourceMetrics }) => serializer.serialize(resourceMetrics)
        )
      )
    )
  })
})

/**
 * The exporters the `ServiceConfig` selects. Built before the rest of the
 * service so that its tracer (if any) is current for everything built after
 * it, and closed after it so that the last export sees every job.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Telemetry, never, ServiceConfig | CryptoEngine> = Layer.scoped(Telemetry, make).pipe(
  Layer.provide(SdkLive)
)
