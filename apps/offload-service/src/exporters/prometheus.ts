/**
 * OpenTelemetry's Prometheus exporter, for `telemetry.ts` to load only when
 * `METRICS_EXPORTER` names `prometheus`. A module of the service's own (static
 * named imports of the CommonJS package), so that the bundle `pnpm start` runs
 * keeps the package's named exports in the chunk loaded on demand.
 */
export { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
