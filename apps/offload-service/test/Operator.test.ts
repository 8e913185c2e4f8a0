/**
 * The operator's view (issue 24, item 9): process metrics at `/metrics`, and
 * `loadgen --help` writing plain text into a pipe.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue } from "@effect/vitest/utils"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as ServiceConfig from "../src/config.js"
import * as Server from "../src/http/server.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"
import { call } from "./utils/http.js"

const TestServer = Server.layer.pipe(
  Layer.provideMerge(ManualEngine.layer),
  Layer.provide(ServiceConfig.layer({ port: 0, shutdownGrace: Duration.zero }))
)

describe("operator's view", () => {
  it.live("/metrics carries the process's memory and event-loop delay, open connections, buffered and queued bytes", () =>
    Effect.gen(function*() {
      const url = yield* Server.url
      const reply = yield* call(url, "GET", "/metrics")
      for (
        const name of [
          "process_resident_memory_bytes",
          "nodejs_heap_used_bytes",
          "nodejs_eventloop_delay_p99_seconds",
          "offload_open_connections",
          "offload_buffered_bytes",
          "offload_queued_bytes",
          "offload_engine_queued_bytes"
        ]
      ) {
        assertTrue(new RegExp(`^${name}(\\{[^}]*\\})? \\d`, "m").test(reply.text), name)
      }
    }).pipe(Effect.provide(TestServer)))

  it.live("loadgen --help into a pipe: the help, no colour codes", () =>
    Effect.promise(() =>
      new Promise<string>((resolve) => {
        const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
        const entry = fileURLToPath(new URL("../src/loadgen/main.ts", import.meta.url))
        ChildProcess.execFile(process.execPath, ["--import", tsx, entry, "--help"], (_error, stdout, stderr) =>
          resolve(stdout + stderr))
      })
    ).pipe(Effect.map((output) => {
      assertTrue(output.includes("--concurrency"), output)
      assertFalse(output.includes("\u001b["), JSON.stringify(output.slice(0, 200)))
    })))
})
