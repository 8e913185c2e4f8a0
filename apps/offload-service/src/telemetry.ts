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
 * OpenTelemetry (its SDK, exporters and `@effect/opentelemetry`) is loaded
 * only when an exporter is configured: with `METRICS_EXPORTER=none` and no
 * traces exporter, none of it is imported; with the Prometheus exporter alone
 * (the default), on the first `GET /metrics`.
 *
 * **Gotchas**
 *
 * Effect's metric registry (the one in context, by default process-wide) is
 * what is exported: every metric recorded in it, not only the service's.
 */
import type { MetricProducer, MetricReader } from "@opentelemetry/sdk-metrics"
import * as Arr from "effect/Array"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PerfHooks from "node:perf_hooks"
import { ServiceConfig } from "./config.js"
import { CryptoEngine } from "./engine/CryptoEngine.js"
import { Traffic } from "./http/traffic.js"

/**
 * The content type of the Prometheus text format `GET /metrics` answers.
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * How long stopping the service waits for the exporters' last export.
 */
export const shutdownTimeout: Duration.Duration = Duration.seconds(5)

export interface Telemetry {
  /**
   * Collects every metric and renders it as Prometheus text: `Some` when the
   * `prometheus` metrics exporter is on, `None` otherwise.
   */
  readonly prometheus: Option.Option<Effect.Effect<string>>
}

export const Telemetry: Context.Service<Telemetry, Telemetry> = Context.Service<Telemetry>(
  "@async-job/offload-service/Telemetry"
)

// ---------------------------------------------------------------------------
// the engine's counts, as metrics

const engineQueued = Metric.gauge("offload_engine_queued", { description: "Engine requests waiting for a worker" })
const engineInFlight = Metric.gauge("offload_engine_in_flight", { description: "Engine requests in a worker" })
const engineRequests = (outcome: "succeeded" | "failed" | "cancelled") =>
  Metric.counter("offload_engine_requests_total", {
    description: "Engine requests ended, by outcome (succeeded, failed, cancelled)",
    incremental: true,
    attributes: { outcome }
  })
const engineCrashes = Metric.counter("offload_engine_worker_crashes_total", {
  description: "Engine worker threads that died and were replaced",
  incremental: true
})

// the process, and what the HTTP layer holds
const residentBytes = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory size in bytes" })
const heapUsedBytes = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use, in bytes" })
const heapTotalBytes = Metric.gauge("nodejs_heap_total_bytes", { description: "V8 heap reserved, in bytes" })
const externalBytes = Metric.gauge("nodejs_external_memory_bytes", {
  description: "Memory of buffers and other objects outside the V8 heap, in bytes"
})
const loopDelayP99 = Metric.gauge("nodejs_eventloop_delay_p99_seconds", {
  description: "99th percentile of the event loop's delay since the last collection, in seconds"
})
const loopDelayMax = Metric.gauge("nodejs_eventloop_delay_max_seconds", {
  description: "Longest event loop delay since the last collection, in seconds"
})
const openConnections = Metric.gauge("offload_open_connections", {
  description: "Open HTTP connections (those beyond MAX_CONNECTIONS included)"
})
const bufferedBytes = Metric.gauge("offload_buffered_bytes", {
  description: "Request body bytes received and held (bounded by MAX_BUFFERED_BYTES)"
})
const engineQueuedBytes = Metric.gauge("offload_engine_queued_bytes", {
  description: "Bytes of input of the engine requests waiting for a worker"
})

/**
 * Copies the engine's counts, the process's memory and event-loop delay and
 * the HTTP layer's holdings into Effect metrics of the registry in `context`
 * (the counters by their increase since the last copy). The queued job
 * inputs (`offload_queued_bytes`) are kept current by the jobs themselves.
 */
const engineMetrics = (engine: CryptoEngine, traffic: Traffic, context: Context.Context<never>) => {
  const delay = PerfHooks.monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const seen = { succeeded: 0, failed: 0, cancelled: 0, workerCrashes: 0 }
  const outcome = {
    succeeded: engineRequests("succeeded"),
    failed: engineRequests("failed"),
    cancelled: engineRequests("cancelled")
  }
  return (): void => {
    const stats = engine.statsUnsafe()
    engineQueued.updateUnsafe(stats.queued, context)
    engineInFlight.updateUnsafe(stats.inFlight, context)
    for (const key of ["succeeded", "failed", "cancelled"] as const) {
      outcome[key].updateUnsafe(stats[key] - seen[key], context)
      seen[key] = stats[key]
    }
    engineCrashes.updateUnsafe(stats.workerCrashes - seen.workerCrashes, context)
    seen.workerCrashes = stats.workerCrashes
    engineQueuedBytes.updateUnsafe(stats.queuedBytes, context)
    const memory = process.memoryUsage()
    residentBytes.updateUnsafe(memory.rss, context)
    heapUsedBytes.updateUnsafe(memory.heapUsed, context)
    heapTotalBytes.updateUnsafe(memory.heapTotal, context)
    externalBytes.updateUnsafe(memory.external, context)
    loopDelayP99.updateUnsafe(delay.percentile(99) / 1e9, context)
    loopDelayMax.updateUnsafe(delay.max / 1e9, context)
    delay.reset()
    openConnections.updateUnsafe(traffic.connections(), context)
    bufferedBytes.updateUnsafe(traffic.buffered(), context)
  }
}

// ---------------------------------------------------------------------------
// layers

/** What the configured exporters need of OpenTelemetry, loaded only then. */
const load = (config: ServiceConfig) =>
  Effect.promise(async () => {
    const [NodeSdk, OtelMetrics, Prometheus, OtlpMetrics, OtlpTraces] = await Promise.all([
      import("@effect/opentelemetry/NodeSdk"),
      import("@effect/opentelemetry/OtelMetrics"),
      config.metricsExporters.includes("prometheus") ? import("./exporters/prometheus.js") : undefined,
      config.metricsExporters.includes("otlp") ? import("./exporters/otlpMetrics.js") : undefined,
      config.tracesExporter === "otlp" ? import("./exporters/otlpTraces.js") : undefined
    ])
    return { NodeSdk, OtelMetrics, Prometheus, OtlpMetrics, OtlpTraces }
  })

type Otel = Effect.Success<ReturnType<typeof load>>

/** The exporters over the loaded OpenTelemetry modules. */
const layerOtel = (otel: Otel, config: ServiceConfig): Layer.Layer<Telemetry, never, CryptoEngine | Traffic> => {
  // the resource (`service.name`) and, with TRACES_EXPORTER=otlp, the tracer
  const Sdk = otel.NodeSdk.layer(() => ({
    resource: { serviceName: config.serviceName },
    shutdownTimeout,
    spanProcessor: otel.OtlpTraces === undefined
      ? undefined
      : new otel.OtlpTraces.BatchSpanProcessor(
        new otel.OtlpTraces.OTLPTraceExporter({ url: config.otlpTracesEndpoint })
      )
  }))
  const make = Effect.gen(function*() {
    const refresh = engineMetrics(yield* CryptoEngine, yield* Traffic, yield* Effect.context<never>())
    const readers: Array<MetricReader> = []
    // a pull reader with no server of its own (no second port): GET /metrics collects through it
    const prometheus = otel.Prometheus === undefined
      ? undefined
      : new otel.Prometheus.PrometheusExporter({ preventServerStart: true })
    if (prometheus !== undefined) readers.push(prometheus)
    if (otel.OtlpMetrics !== undefined) {
      const interval = Math.max(1, Math.round(Duration.toMillis(config.metricsExportInterval)))
      readers.push(
        new otel.OtlpMetrics.PeriodicExportingMetricReader({
          exporter: new otel.OtlpMetrics.OTLPMetricExporter({ url: config.otlpMetricsEndpoint }),
          exportIntervalMillis: interval,
          exportTimeoutMillis: Math.min(interval, 30_000)
        })
      )
    }
    if (Arr.isArrayNonEmpty(readers)) {
      // Effect's producer (every metric of the registry), with the engine's counts brought up to date first;
      // the readers are shut down (the periodic one exports a last time) when the scope closes
      const effectMetrics = yield* otel.OtelMetrics.makeProducer()
      const producer: MetricProducer = {
        collect: (options) => {
          refresh()
          return effectMetrics.collect(options)
        }
      }
      yield* otel.OtelMetrics.registerProducer(producer, () => readers, { shutdownTimeout })
    }
    if (prometheus === undefined || otel.Prometheus === undefined) return Telemetry.of({ prometheus: Option.none() })
    // no scope info label on each series, as Prometheus itself would not add one; target_info carries the resource
    const serializer = new otel.Prometheus.PrometheusSerializer(undefined, false, undefined, false, true)
    return Telemetry.of({
      prometheus: Option.some(
        Effect.map(
          Effect.promise(() => prometheus.collect()),
          ({ resourceMetrics }) => serializer.serialize(resourceMetrics)
        )
      )
    })
  })
  // the SDK's outputs (the tracer among them) go on to what is built with the telemetry
  return Layer.effect(Telemetry, make).pipe(Layer.provideMerge(Sdk))
}

/**
 * The Prometheus exporter alone (the default settings), loaded on the first
 * `GET /metrics` and kept from then on, in the telemetry's scope: a service
 * that is never scraped never loads OpenTelemetry (about 0.1 s of its start).
 * The values are the same as if it had been loaded at start: Effect's
 * registry holds every metric since the start, and the exporter reads it
 * when it collects (the event loop's delay is measured from the first
 * scrape on).
 */
const layerPrometheusOnDemand = (config: ServiceConfig): Layer.Layer<Telemetry, never, CryptoEngine | Traffic> =>
  Layer.effect(
    Telemetry,
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const context = yield* Effect.context<CryptoEngine | Traffic>()
      const build = load(config).pipe(
        Effect.flatMap((otel) => Layer.buildWithScope(layerOtel(otel, config), scope)),
        Effect.map((built) => Context.get(built, Telemetry).prometheus),
        Effect.provideContext(context)
      )
      // built once, by a fiber of the telemetry's scope: a scrape that goes away does not stop it half-way
      let building: Deferred.Deferred<Option.Option<Effect.Effect<string>>> | undefined
      const loaded = Effect.suspend(() => {
        if (building !== undefined) return Deferred.await(building)
        const deferred = Deferred.makeUnsafe<Option.Option<Effect.Effect<string>>>()
        building = deferred
        return Effect.andThen(Effect.forkIn(Deferred.into(build, deferred), scope), Deferred.await(deferred))
      })
      return Telemetry.of({
        prometheus: Option.some(
          Effect.flatMap(
            loaded,
            (prometheus) =>
              Option.getOrElse(prometheus, () => Effect.die(new Error("no Prometheus exporter was built")))
          )
        )
      })
    })
  )

/**
 * The exporters the `ServiceConfig` selects. Built before the rest of the
 * service so that its tracer (if any) is current for everything built after
 * it, and closed after it so that the last export sees every job. With no
 * exporter configured, no OpenTelemetry module is loaded; with the
 * Prometheus exporter alone (the default), it is loaded on the first
 * `GET /metrics`.
 */
export const layer: Layer.Layer<Telemetry, never, ServiceConfig | CryptoEngine | Traffic> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* ServiceConfig
    if (config.metricsExporters.length === 0 && config.tracesExporter === "none") {
      return Layer.succeed(Telemetry, { prometheus: Option.none() })
    }
    if (config.tracesExporter === "none" && config.metricsExporters.every((exporter) => exporter === "prometheus")) {
      return layerPrometheusOnDemand(config)
    }
    return layerOtel(yield* load(config), config)
  })
)
