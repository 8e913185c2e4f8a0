import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClient from "effect/http/HttpClient"
import * as Scope from "effect/Scope"
import { fileURLToPath } from "node:url"
import * as Compare from "../src/loadgen/Compare.js"
import * as Service from "../src/loadgen/Service.js"

const standIn = fileURLToPath(new URL("./fixtures/standInService.ts", import.meta.url))
const failing = fileURLToPath(new URL("./fixtures/failingService.ts", import.meta.url))

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("Service.start", () => {
  it.live("starts the entry on a free loopback port with the given env, and stops it with the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const service = yield* Service.start({ entry: standIn, env: { ENGINE: "inline" } }).pipe(Scope.provide(scope))
      assertTrue(service.url.startsWith("http://127.0.0.1:"))
      const client = yield* HttpClient.HttpClient
      const engine = yield* client.get(`${service.url}/engine`).pipe(Effect.flatMap((response) => response.json))
      deepStrictEqual(engine, { mode: "inline", pid: service.pid })
      assertTrue(isAlive(service.pid))
      yield* Scope.close(scope, Exit.void)
      assertTrue(!isAlive(service.pid))
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("fails with the service's output when it exits before it is healthy", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Service.start({ entry: failing })))
      strictEqual(error._tag, "ServiceStartError")
      assertTrue(error.message.includes("code 3"), error.message)
      assertTrue(error.output.includes("stand-in failure: cannot start"), error.output)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})

describe("Compare.run", () => {
  it.live("runs the same load against the threads and the inline service, stopping each", () =>
    Effect.gen(function*() {
      const phases: Array<string> = []
      const rows = yield* Compare.run({
        entry: standIn,
        op: "ecdsa-p256-sign",
        requests: 12,
        concurrency: 3,
        around: (label, total, run) => {
          phases.push(`${label}:${total}`)
          return run(() => {})
        }
      })
      deepStrictEqual(phases, ["threads:12", "inline:12"])
      deepStrictEqual(rows.map((row) => [row.label, row.report.ok, row.report.failed]), [
        ["threads", 12, 0],
        ["inline", 12, 0]
      ])
      assertTrue(rows[0]!.pid !== rows[1]!.pid)
      for (const row of rows) assertTrue(!isAlive(row.pid))
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
