/**
 * `pnpm start` runs the service from a bundle (`scripts/bundle.mjs`), and a
 * stale bundle never runs: it is current only while every file it was built
 * from exists and is no newer than the build; otherwise it is built again
 * before it runs. Each test uses a `dist` directory of its own.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Bundle from "../scripts/bundle.mjs"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "offload-bundle-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Sets a file's modification time, in epoch milliseconds. */
const touch = (file: string, ms: number) => Fs.utimesSync(file, ms / 1000, ms / 1000)

describe("the bundle pnpm start runs", () => {
  it.effect("is current only while its build is there and every input exists and is no newer than the build", () =>
    Effect.gen(function*() {
      const dist = yield* tempDir
      Fs.mkdirSync(Path.join(dist, "b1"))
      Fs.writeFileSync(Path.join(dist, "b1", "main.js"), "")
      const input = Path.join(dist, "input.ts")
      Fs.writeFileSync(input, "")
      const builtAt = Date.now() - 60_000
      const manifest = { dir: "b1", builtAt, inputs: [input] }
      touch(input, builtAt - 1000)
      assertTrue(Bundle.isFresh(manifest, dist))
      touch(input, builtAt + 1000)
      assertFalse(Bundle.isFresh(manifest, dist), "an input edited since the build")
      touch(input, builtAt - 1000)
      assertFalse(Bundle.isFresh({ ...manifest, inputs: [input, Path.join(dist, "gone.ts")] }, dist), "an input gone")
      assertFalse(Bundle.isFresh({ ...manifest, dir: "b2" }, dist), "no build")
    }))

  it.live(
    "a stale bundle is built again before it runs: a new build, made from the service's sources",
    () =>
      Effect.gen(function*() {
        const dist = yield* tempDir
        Fs.mkdirSync(Path.join(dist, "old"))
        Fs.writeFileSync(Path.join(dist, "old", "main.js"), "throw new Error('a stale bundle ran')")
        const edited = Path.join(dist, "edited.ts")
        Fs.writeFileSync(edited, "")
        const builtAt = Date.now() - 60_000
        Fs.writeFileSync(Path.join(dist, "bundle.json"), JSON.stringify({ dir: "old", builtAt, inputs: [edited] }))
        const main = fileURLToPath(yield* Effect.promise(() => Bundle.freshBundle(dist)))
        assertFalse(main.startsWith(Path.join(dist, "old")))
        assertTrue(Fs.existsSync(main) && Fs.existsSync(Path.join(Path.dirname(main), "cryptoWorker.js")))
        const manifest = Bundle.readManifest(dist)!
        strictEqual(Path.join(dist, manifest.dir, "main.js"), main)
        const sources = fileURLToPath(new URL("../src/", import.meta.url))
        assertTrue(manifest.inputs.includes(Path.join(sources, "main.ts")))
        assertTrue(manifest.inputs.includes(Path.join(sources, "http", "server.ts")))
        assertTrue(Bundle.isFresh(manifest, dist))
        // and now it is current: the same build is run again
        strictEqual(fileURLToPath(yield* Effect.promise(() => Bundle.freshBundle(dist))), main)
      }),
    { timeout: 120_000 }
  )
})
