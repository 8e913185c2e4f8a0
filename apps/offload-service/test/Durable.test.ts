/**
 * Durable mode (`DURABLE=sqlite:<file>`), on real child processes: a job
 * paused on the engine survives `kill -9` of the service, finishes after a
 * restart on the same file, and `GET /jobs/:id` serves its result.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { exited, serve } from "./utils/child.js"
import { awaitEnded, call } from "./utils/http.js"

const realService = fileURLToPath(new URL("../src/main.ts", import.meta.url))
// the engine of this one never answers: its jobs stay paused on it
const stuckService = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))

const sha256 = (data: string) => Crypto.createHash("sha256").update(data).digest("base64")

describe("durable mode", () => {
  it.live(
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
        strictEqual((yield* call(second.url, "GET", `/jobs/sha256.${Crypto.randomUUID()}`)).status, 404)
        second.child.kill("SIGTERM")
        deepStrictEqual(yield* exited(second.child), { code: 0, signal: null })
      }),
    { timeout: 180_000 }
  )
})
