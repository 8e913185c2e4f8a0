/**
 * What pushes metrics to an OTLP/HTTP collector (`METRICS_EXPORTER` naming
 * `otlp`), loaded only then by `telemetry.ts` (see `prometheus.ts` for why
 * it is a module of its own).
 */
export { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
export { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
