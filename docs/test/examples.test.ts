/**
 * Every example in docs/examples/ runs as a reader would run it (`tsx examples/<name>.ts`), and prints exactly the
 * output recorded next to it in `examples/<name>.output.txt` (the file the pages show as its output).
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const examplesDir = Path.join(docsDir, "examples")
const tsx = Path.join(docsDir, "node_modules", ".bin", "tsx")

const examples = Fs.readdirSync(examplesDir).filter((f) => f.endsWith(".ts")).sort()
/**
 * Per example: the multi-process ones (durable-sqlite, durable-postgres) start several node processes and a server,
 * which takes about 20 s on a quiet machine and several times that on a busy one.
 */
const timeout = 300_000

const run = (file: string) =>
  Effect.callback<{ readonly stdout: string; readonly stderr: string; readonly code: number }>((resume, signal) => {
    execFile(tsx, [file], { cwd: docsDir, signal, timeout }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resume(Effect.succeed({ stdout, stderr, code }))
    })
  })

describe("docs examples", () => {
  it("there is at least one example", () => {
    assertTrue(examples.length > 0)
  })

  for (const example of examples) {
    it.live(example, () =>
      Effect.gen(function*() {
        const expectedFile = Path.join(examplesDir, example.replace(/\.ts$/, ".output.txt"))
        assertTrue(Fs.existsSync(expectedFile), `${example} needs its expected output in ${expectedFile}`)
        const result = yield* run(Path.join("examples", example))
        strictEqual(result.stderr, "")
        strictEqual(result.code, 0)
        strictEqual(result.stdout, Fs.readFileSync(expectedFile, "utf8"))
      }), timeout)
  }
})
