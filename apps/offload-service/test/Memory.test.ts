/**
 * What finished jobs keep: their result, not their input. Many large jobs
 * leave the process's memory near where it was (results still retained), and
 * the retained results are bounded by bytes as well as by count.
 *
 * The service runs in this process (inline engine, so that no worker thread's
 * heap is counted), and the test forces garbage collections between readings.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as ServiceConfig from "../src/config.js"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import * as Server from "../src/http/server.js"
import * as Jobs from "../src/jobs/Jobs.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { call, pollUntil } from "./utils/http.js"

V8.setFlagsFromString("--expose-gc")
const gc: () => void = Vm.runInNewContext("gc")

const keys = await Effect.runPromise(CryptoEngine.generateKeys)

const TestServer = (overrides: Partial<ServiceConfig.ServiceConfig> = {}) =>
  Server.layer.pipe(
    Layer.provide(Layer.effect(CryptoEngine.CryptoEngine, CryptoEngine.makeInline({ keys }))),
    Layer.provide(ServiceConfig.layer({ port: 0, ...overrides }))
  )

const mib = 1024 * 1024

/** The process's memory after full collections. */
const settled = Effect.sync(() => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage()
})

describe("finished jobs keep only what their result needs", () => {
  it.live("300 jobs of 1 MiB each: RSS and heap come back near their baseline while every result is kept", () =>
    Effect.gen(function*() {
      const url = yield* Server.url
      const jobs = yield* Jobs.Jobs
      const body = JSON.stringify({ op: "sha256", data: "x".repeat(mib) })
      const count = 300
      // warm-up: the first requests allocate what every later one reuses
      yield* Effect.forEach(Array.from({ length: 8 }), () => call(url, "POST", "/jobs?wait=true", body), {
        concurrency: 4
      })
      const before = yield* settled

      const replies = yield* Effect.forEach(
        Array.from({ length: count }),
        () => Effect.map(call(url, "POST", "/jobs?wait=true", body), (reply) => reply.body.state as string),
        { concurrency: 8 }
      )
      const after = yield* settled

      deepStrictEqual(new Set(replies), new Set(["finished"]))
      strictEqual((yield* jobs.housekeeping).retained, count + 8)
      const grew = { rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }
      // 300 MiB went through; kept inputs show as about 300 MiB more of both (measured: +309 MiB heap, +342 MiB
      // RSS), kept results as a few MiB of heap (the rest of RSS is allocator slack: measured +50 to +65 MiB)
      assertTrue(grew.heap < 32 * mib, `heap grew by ${(grew.heap / mib).toFixed(1)} MiB`)
      assertTrue(grew.rss < 128 * mib, `RSS grew by ${(grew.rss / mib).toFixed(1)} MiB`)
    }).pipe(Effect.provide(TestServer())))

  it.live("RESULT_MAX_BYTES bounds the retained results: the oldest are forgotten, the newest kept", () =>
    Effect.gen(function*() {
      const url = yield* Server.url
      const jobs = yield* Jobs.Jobs
      const ids: Array<string> = []
      for (let i = 0; i < 20; i++) {
        ids.push((yield* call(url, "POST", "/jobs?wait=true", { op: "ecdsa-p256-sign", data: `n${i}` })).body.id)
      }
      const { retained } = yield* jobs.housekeeping
      // a signature and a public key make a record of several hundred bytes: 4 KB hold a few, not 20
      assertTrue(retained >= 1 && retained < 20, `retained ${retained}`)
      strictEqual((yield* call(url, "GET", `/jobs/${ids[0]}`)).status, 404)
      strictEqual((yield* call(url, "GET", `/jobs/${ids[19]}`)).status, 200)
    }).pipe(Effect.provide(TestServer({ resultMaxBytes: 4096 }))))

  it.live("far more concurrent slow jobs than the pool holds: 503 NoJobs with Retry-After, memory back near baseline", () =>
    Effect.gen(function*() {
      const url = yield* Server.url
      const engine = yield* ManualEngine.ManualEngine
      const body = JSON.stringify({ op: "sha256", data: "y".repeat(256 * 1024) })
      /** 200 at once against a pool of 8 (within MAX_CONNECTIONS): the jobs that got a slot stay paused until released */
      const burst = (round: number) =>
        Effect.gen(function*() {
          const replies = yield* Effect.forkChild(Effect.forEach(
            Array.from({ length: 200 }),
            () => call(url, "POST", "/jobs?wait=true", body),
            { concurrency: "unbounded" }
          ))
          yield* pollUntil(Effect.sync(() => engine.pendingIds().length), (n) => n === 8)
          yield* pollUntil(
            Effect.map(call(url, "GET", "/stats"), (reply) => reply.body.noJobs as number),
            (n) => n === 192 * round
          )
          for (const id of engine.pendingIds()) yield* engine.release(id)
          return yield* Fiber.join(replies)
        })
      // the first burst opens the connections (client and server side) that the second one reuses
      yield* burst(1)
      const before = yield* settled
      const replies = yield* burst(2)
      const after = yield* settled

      const busy = replies.filter((reply) => reply.status === 503)
      strictEqual(busy.length, 192)
      assertTrue(busy.every((reply) => reply.body.error.tag === "NoJobs" && reply.headers.get("retry-after") === "1"))
      strictEqual(replies.filter((reply) => reply.status === 200).length, 8)
      const grew = { rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }
      // 50 MiB of bodies came in at once; kept, they would show as about that much more heap
      assertTrue(grew.heap < 16 * mib, `heap grew by ${(grew.heap / mib).toFixed(1)} MiB`)
      assertTrue(grew.rss < 64 * mib, `RSS grew by ${(grew.rss / mib).toFixed(1)} MiB`)
    }).pipe(
      Effect.provide(
        Server.layer.pipe(
          Layer.provideMerge(ManualEngine.layer),
          Layer.provide(ServiceConfig.layer({ port: 0, poolMax: 8 }))
        )
      )
    ))
})
