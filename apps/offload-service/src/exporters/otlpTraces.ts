/**
 * What pushes spans to an OTLP/HTTP collector (`TRACES_EXPORTER=otlp`),
 * loaded only then by `telemetry.ts` (see `prometheus.ts` for why it is a
 * module of its own).
 */
export { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
export { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
