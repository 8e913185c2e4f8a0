/**
 * The exporters `ServiceConfig` selects, against a real service: OTLP metrics
 * and spans reach a collector (a small HTTP receiver started here) when they
 * are configured, nothing is sent with the defaults, `/metrics` answers 404
 * once Prometheus is not selected, and a bad setting fails the start with a
 * `ConfigError`.
 */
import { describe, expect, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as ServiceConfig from "../src/config.js"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import * as Server from "../src/http/server.js"
import * as LoadService from "../src/loadgen/Service.js"
import { call, errorShape, pollUntil } from "./utils/http.js"

interface Post {
  readonly path: string
  readonly contentType: string
  readonly body: any
}

/** An OTLP/HTTP collector on a free loopback port: it keeps every POST (its JSON body) and answers 200. */
const receiver = Effect.acquireRelease(
  Effect.callback<{ readonly server: Http.Server; readonly posts: Array<Post>; readonly url: string }>((resume) => {
    const posts: Array<Post> = []
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let body: unknown = undefined
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
        if (request.method === "POST") {
          posts.push({ path: request.url ?? "", contentType: request.headers["content-type"] ?? "", body })
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { readonly port: number }
      resume(Effect.succeed({ server, posts, url: `http://127.0.0.1:${address.port}` }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const keys = await Effect.runPromise(CryptoEngine.generateKeys)

/**
 * Runs the service with `config` in a scope of its own, gives `use` its URL,
 * then stops the service (closing the scope: the exporters' last export) and
 * answers what `use` answered.
 */
const withService = <A>(config: Partial<ServiceConfig.ServiceConfig>, use: (url: string) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Server.layer.pipe(
        Layer.provide(CryptoEngine.layer({ threads: 1, keys })),
        Layer.provide(ServiceConfig.layer({ port: 0, ...config }))
      ),
      scope
    ).pipe(Effect.orDie)
    const url = yield* Effect.provideService(
      Server.url,
      HttpServer.HttpServer,
      Context.get(context, HttpServer.HttpServer)
    )
    const exit = yield* Effect.exit(use(url))
    yield* Scope.close(scope, Exit.void)
    return yield* exit
  })

const sha256Job = (url: string) =>
  Effect.map(call(url, "POST", "/jobs?wait=true", { op: "sha256", data: "exported" }), (reply) => {
    strictEqual(reply.status, 200)
    strictEqual(reply.body.state, "finished")
  })

/** The OTLP JSON metrics of every export, by name. */
const otlpMetrics = (posts: ReadonlyArray<Post>) =>
  posts.flatMap((post) =>
    post.body.resourceMetrics.flatMap((resource: any) =>
      resource.scopeMetrics.flatMap((scope: any) => scope.metrics.map((metric: any) => ({ resource, metric })))
    )
  )

const attribute = (attributes: ReadonlyArray<any>, key: string) =>
  attributes.find((entry) => entry.key === key)?.value.stringValue

describe("Telemetry", () => {
  for (
    const [setting, config, metricsStatus] of [
      ["the default settings", {}, 200],
      ["METRICS_EXPORTER=none", { metricsExporters: [] }, 404]
    ] as const
  ) {
    it.live(`${setting}: nothing is sent to the collector; /metrics answers ${metricsStatus}`, () =>
      Effect.gen(function*() {
        const collector = yield* receiver
        yield* withService({
          ...config,
          otlpMetricsEndpoint: `${collector.url}/v1/metrics`,
          otlpTracesEndpoint: `${collector.url}/v1/traces`
        }, (url) =>
          Effect.gen(function*() {
            yield* sha256Job(url)
            const metrics = yield* call(url, "GET", "/metrics")
            strictEqual(metrics.status, metricsStatus)
            if (metricsStatus === 200) {
              expect(metrics.text).toMatch(/^offload_jobs_started_total\{op="sha256"\} [1-9]\d*$/m)
            } else {
              strictEqual(errorShape(metrics).tag, "NotFound")
            }
          }))
        deepStrictEqual(collector.posts, [])
      }).pipe(Effect.scoped))
  }

  it.live("METRICS_EXPORTER=otlp: the service's metrics reach the collector (on stopping at the latest)", () =>
    Effect.gen(function*() {
      const collector = yield* receiver
      yield* withService({
        metricsExporters: ["otlp"],
        // no periodic export during the test: the one on stopping is what arrives
        metricsExportInterval: Duration.hours(1),
        otlpMetricsEndpoint: `${collector.url}/v1/metrics`,
        otlpTracesEndpoint: `${collector.url}/v1/traces`,
        serviceName: "offload-under-test"
      }, (url) =>
        Effect.gen(function*() {
          yield* sha256Job(url)
          yield* sha256Job(url)
          // Prometheus is not selected: /metrics is not served
          const metrics = yield* call(url, "GET", "/metrics")
          strictEqual(metrics.status, 404)
          strictEqual(errorShape(metrics).tag, "NotFound")
        }))
      assertTrue(collector.posts.length >= 1)
      for (const post of collector.posts) {
        strictEqual(post.path, "/v1/metrics")
        strictEqual(post.contentType, "application/json")
      }
      const exported = otlpMetrics(collector.posts)
      const byName = (name: string) => exported.filter(({ metric }) => metric.name === name)
      // a job counter, by op: at least the two jobs above
      const started = byName("offload_jobs_started_total").flatMap(({ metric }) => metric.sum.dataPoints)
      const sha256 = started.filter((point: any) => attribute(point.attributes, "op") === "sha256")
      assertTrue(sha256.some((point: any) => Number(point.asDouble ?? point.asInt) >= 2), JSON.stringify(sha256))
      assertTrue(byName("offload_jobs_started_total").every(({ metric }) => metric.sum.isMonotonic === true))
      // a pool gauge, the job duration histogram, the engine's counts
      assertTrue(byName("async_job_pool_paused").every(({ metric }) => metric.gauge !== undefined))
      assertTrue(byName("async_job_pool_paused").length >= 1)
      const durations = byName("offload_job_duration_seconds").flatMap(({ metric }) => metric.histogram.dataPoints)
      assertTrue(
        durations.some((point: any) => attribute(point.attributes, "op") === "sha256" && Number(point.count) >= 2)
      )
      const engine = byName("offload_engine_requests_total").flatMap(({ metric }) => metric.sum.dataPoints)
      assertTrue(
        engine.some((point: any) =>
          attribute(point.attributes, "outcome") === "succeeded" && Number(point.asDouble ?? point.asInt) >= 2
        )
      )
      // the resource names the service
      const resource = exported[0]!.resource.resource
      strictEqual(attribute(resource.attributes, "service.name"), "offload-under-test")
    }).pipe(Effect.scoped))

  it.live("TRACES_EXPORTER=otlp: the HTTP requests' and the jobs' spans reach the collector", () =>
    Effect.gen(function*() {
      const collector = yield* receiver
      yield* withService({
        metricsExporters: [],
        tracesExporter: "otlp",
        otlpMetricsEndpoint: `${collector.url}/v1/metrics`,
        otlpTracesEndpoint: `${collector.url}/v1/traces`
      }, sha256Job)
      assertTrue(collector.posts.length >= 1)
      for (const post of collector.posts) {
        strictEqual(post.path, "/v1/traces")
        strictEqual(post.contentType, "application/json")
      }
      const spans = collector.posts.flatMap((post) =>
        post.body.resourceSpans.flatMap((resource: any) => resource.scopeSpans.flatMap((scope: any) => scope.spans))
      )
      const names = spans.map((span: any) => `${span.name} (kind ${span.kind})`)
      // the HTTP request's span: effect 4 names a server span after the method, as OpenTelemetry's conventions do
      // (OTLP kind 2: server)
      const request = spans.find((span: any) => span.name === "POST" && span.kind === 2)
      assertTrue(request !== undefined, JSON.stringify(names))
      assertTrue(spans.some((span: any) => span.name === "AsyncJob.start"), JSON.stringify(names))
      // the job's start span belongs to the request's trace
      const start = spans.find((span: any) => span.name === "AsyncJob.start")
      strictEqual(start.traceId, request.traceId)
    }).pipe(Effect.scoped))

  it.live("a bad exporter setting fails the start with a ConfigError, before the port opens", () =>
    Effect.gen(function*() {
      for (
        const env of [
          { METRICS_EXPORTER: "statsd" },
          { TRACES_EXPORTER: "jaeger" },
          { TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }
        ]
      ) {
        const started = Server.layer.pipe(
          Layer.provide(CryptoEngine.layerInline),
          Layer.provide(ServiceConfig.layerConfig),
          Layer.build,
          Effect.scoped,
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { PORT: "0", ...env } }))
        )
        const exit = yield* Effect.exit(started)
        assertTrue(Exit.isFailure(exit), JSON.stringify(env))
        if (Exit.isFailure(exit)) {
          const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
          assertTrue(failure instanceof Config.ConfigError, JSON.stringify(env))
          expect(String(failure)).toContain(Object.keys(env).at(-1)!)
        }
      }
    }))
})

describe("Telemetry, in the process pnpm start runs", () => {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
  const moduleLog = fileURLToPath(new URL("./fixtures/moduleLog.mjs", import.meta.url))
  const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
  /** OpenTelemetry's packages, and this service's module of its Prometheus exporter. */
  const otel = /\/node_modules\/@(?:opentelemetry|effect\/opentelemetry)\/|\/src\/exporters\//
  /** What the default settings never need. */
  const unused = /\/node_modules\/(?:fast-check|pg|@effect\/sql-pg|@effect\/sql-sqlite-node)\/|^node:sqlite$/

  it.live(
    "the default settings load no OpenTelemetry module until the first GET /metrics, and no store driver",
    () =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "offload-modules-"))),
          (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
        )
        const log = Path.join(dir, "modules.log")
        const port = yield* LoadService.freePort("127.0.0.1")
        const url = `http://127.0.0.1:${port}`
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            ChildProcess.spawn(process.execPath, ["--import", moduleLog, "--import", tsx, main], {
              env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", MODULE_LOG: log, ENGINE_THREADS: "1" },
              stdio: "ignore"
            })
          ),
          (child) => Effect.sync(() => child.kill("SIGKILL"))
        )
        yield* pollUntil(
          Effect.promise(() => fetch(`${url}/healthz`).then((response) => response.status, () => 0)),
          (status) => status === 200 || child.exitCode !== null
        )
        const lines = () => Fs.readFileSync(log, "utf8").split("\n")
        const loaded = () => lines().filter((line) => otel.test(line))
        deepStrictEqual(loaded(), [])
        // nor the durable store's drivers, nor a test library
        deepStrictEqual(lines().filter((line) => unused.test(line)), [])
        strictEqual((yield* call(url, "GET", "/metrics")).status, 200)
        assertTrue(loaded().some((line) => line.includes("/exporter-prometheus/")), loaded().join("\n"))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
