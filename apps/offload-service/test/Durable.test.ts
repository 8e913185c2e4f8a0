/**
 * Durable mode (`DURABLE=sqlite:<file>`), on real child processes: a job
 * paused on the engine survives `kill -9` of the service, finishes after a
 * restart on the same file, and `GET /jobs/:id` serves its result.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Service from "../src/loadgen/Service.js"
import { awaitEnded, call } from "./utils/http.js"

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const realService = fileURLToPath(new URL("../src/main.ts", import.meta.url))
// the engine of this one never answers: its jobs stay paused on it
const stuckService = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))
const host = "127.0.0.1"

/** A service process on a free port, healthy; SIGKILLed and awaited when the scope closes. */
const serve = (entry: string, durable: string) =>
  Effect.gen(function*() {
    const port = yield* Service.freePort(host)
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(process.execPath, ["--import", tsx, entry], {
          env: { ...process.env, DURABLE: durable, PORT: String(port), HOST: host },
          stdio: ["ignore", "pipe", "pipe"]
        })
        child.stdout!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        return child
      }),
      (child) => Effect.asVoid(Effect.zipRight(Effect.sync(() => child.kill("SIGKILL")), exited(child)))
    )
    const url = `http://${host}:${port}`
    yield* Effect.tryPromise(() => fetch(`${url}/healthz`)).pipe(
      Effect.filterOrFail((response) => response.status === 200),
      Effect.retry({ schedule: Schedule.spaced("100 millis"), while: () => child.exitCode === null }),
      Effect.orElse(() => Effect.dieMessage(`the service did not start:\n${output}`))
    )
    return { child, url }
  })

const exited = (child: ChildProcess.ChildProcess) =>
  Effect.async<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
    }
    child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
  })

const sha256 = (data: string) => Crypto.createHash("sha256").update(data).digest("base64")

describe("durable mode", () => {
  it.scopedLive(
    "a job paused on the engine survives kill -9 and finishes after a restart",
    () =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "offload-durable-"))),
          (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
        )
        const durable = `sqlite:${Path.join(dir, "jobs.db")}`

        const first = yield* serve(stuckService, durable)
        const posted = yield* Effect.forEach(
          ["a", "b"],
          (data) => call(first.url, "POST", "/jobs", { op: "sha256", data })
        )
        deepStrictEqual(posted.map((reply) => [reply.status, reply.body.state]), [[202, "paused"], [202, "paused"]])
        const ids: Array<string> = posted.map((reply) => reply.body.id)
        strictEqual((yield* call(first.url, "GET", `/jobs/${ids[0]}`)).body.state, "paused")
        first.child.kill("SIGKILL")
        deepStrictEqual(yield* exited(first.child), { code: null, signal: "SIGKILL" })

        // a real engine on the same file: the service resubmits both jobs, which finish
        const second = yield* serve(realService, durable)
        const ended = yield* Effect.forEach(ids, (id) => awaitEnded(second.url, id))
        deepStrictEqual(
          ended.map((reply) => [reply.status, reply.body]),
          ["a", "b"].map((data, i) => [200, {
            id: ids[i],
            op: "sha256",
            state: "finished",
            result: { op: "sha256", digest: sha256(data) }
          }])
        )
        strictEqual((yield* call(second.url, "DELETE", `/jobs/${ids[0]}`)).status, 409)
        strictEqual((yield* call(second.url, "GET", "/jobs/sha256.unknown")).status, 404)
        second.child.kill("SIGTERM")
        deepStrictEqual(yield* exited(second.child), { code: 0, signal: null })
      }),
    { timeout: 180_000 }
  )
})
