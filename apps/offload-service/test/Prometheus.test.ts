import { describe, it } from "@effect/vitest"
import { strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Prometheus from "../src/Prometheus.js"

// metric names unique to this file: the registry is global to the process
const snapshotOf = (prefix: string) =>
  Effect.map(
    Metric.snapshot,
    (pairs) => Prometheus.render(pairs.filter((pair) => pair.metricKey.name.startsWith(prefix)))
  )

describe("Prometheus.render", () => {
  it.effect("counters and gauges: one HELP and TYPE per family, labels escaped, families sorted", () =>
    Effect.gen(function*() {
      const requests = Metric.counter("promtest_a_requests_total", { description: "Requests\nserved" })
      yield* Metric.increment(Metric.tagged(requests, "path", "/a\"b\\c"))
      yield* Metric.incrementBy(Metric.tagged(requests, "path", "/d"), 2)
      yield* Metric.set(Metric.gauge("promtest_a.in-flight"), 3)
      strictEqual(
        yield* snapshotOf("promtest_a"),
        [
          "# TYPE promtest_a_in_flight gauge",
          "promtest_a_in_flight 3",
          "# HELP promtest_a_requests_total Requests\\nserved",
          "# TYPE promtest_a_requests_total counter",
          ...[
            "promtest_a_requests_total{path=\"/a\\\"b\\\\c\"} 1",
            "promtest_a_requests_total{path=\"/d\"} 2"
          ].sort()
        ].join("\n") + "\n"
      )
    }))

  it.effect("histograms: cumulative buckets with +Inf, sum and count", () =>
    Effect.gen(function*() {
      const latency = Metric.histogram("promtest_b_seconds", MetricBoundaries.fromIterable([0.1, 1]))
      for (const value of [0.05, 0.5, 0.7, 5]) yield* Metric.update(latency, value)
      strictEqual(
        yield* snapshotOf("promtest_b"),
        [
          "# TYPE promtest_b_seconds histogram",
          "promtest_b_seconds_bucket{le=\"0.1\"} 1",
          "promtest_b_seconds_bucket{le=\"1\"} 3",
          "promtest_b_seconds_bucket{le=\"+Inf\"} 4",
          "promtest_b_seconds_sum 6.25",
          "promtest_b_seconds_count 4"
        ].join("\n") + "\n"
      )
    }))

  it.effect("frequencies: a counter series per value, labelled key", () =>
    Effect.gen(function*() {
      const ops = Metric.frequency("promtest_c_ops")
      for (const op of ["sha256", "scrypt", "sha256"]) yield* Metric.update(ops, op)
      const text = yield* snapshotOf("promtest_c")
      strictEqual(
        text.split("\n").sort().join("\n"),
        ["", "# TYPE promtest_c_ops counter", "promtest_c_ops{key=\"scrypt\"} 1", "promtest_c_ops{key=\"sha256\"} 2"]
          .join("\n")
      )
    }))

  it.effect("summaries: quantile series, sum and count", () =>
    Effect.gen(function*() {
      const sizes = Metric.summary({
        name: "promtest_d_bytes",
        maxAge: "1 hour",
        maxSize: 10,
        error: 0,
        quantiles: [0.5]
      })
      for (const value of [5, 5, 5]) yield* Metric.update(sizes, value)
      strictEqual(
        yield* snapshotOf("promtest_d"),
        [
          "# TYPE promtest_d_bytes summary",
          "promtest_d_bytes{quantile=\"0.5\"} 5",
          "promtest_d_bytes_sum 15",
          "promtest_d_bytes_count 3"
        ].join("\n") + "\n"
      )
    }))

  it("renders nothing for no metrics", () => {
    strictEqual(Prometheus.render([]), "")
  })
})
