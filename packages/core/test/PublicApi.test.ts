/**
 * The packages use only effect's public API: no private fiber methods or
 * fields, no copied private layouts, no deep imports. A match here fails the
 * build, so users can upgrade effect across the whole peer range.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual } from "@effect/vitest/utils"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))

/** Every `.ts` file under `packages/<name>/src`. */
const sources = (): Array<string> => {
  const files: Array<string> = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith(".ts")) files.push(path)
    }
  }
  const packages = join(root, "packages")
  for (const name of readdirSync(packages)) {
    const src = join(packages, name, "src")
    try {
      if (statSync(src).isDirectory()) walk(src)
    } catch {
      // a package without sources
    }
  }
  return files
}

const forbidden: ReadonlyArray<readonly [string, RegExp]> = [
  [
    "private fiber methods",
    /\b(setFiberRefs?|interruptAllChildren|unsafeInterruptAsFork|drainQueue\w*|evaluateEffect|tell)\s*\(/
  ],
  // effect 4's fiber: its public interface is `Fiber.Fiber`; these are its implementation's own
  ["private fiber methods (effect 4)", /\.\s*(evaluate|runLoop|getCont|yieldWith|succeedWith|removeObserver)\s*\(/],
  ["effect 4's private context layout", /\b(cacheRoot|baseHits|_fiberCache)\b/],
  ["an underscore field of effect's objects", /\.\s*_(?!tag\b)[A-Za-z]\w*/],
  ["effect's private prototypes", /\b(Effectable\.\w*Prototype|CommitPrototype|EffectPrototype)\b/],
  ["a deep import of effect", /from\s+["']effect\/(dist|internal|src)\//],
  ["a cast to a fiber's private shape", /as\s+(unknown\s+as\s+)?\{[^}]*\b_(?!tag\b)\w+/]
]

describe("public API only", () => {
  it("no source under packages/*/src reaches into effect's internals", () => {
    const hits: Array<string> = []
    const files = sources()
    for (const file of files) {
      const lines = readFileSync(file, "utf8").split("\n")
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*)/.test(line)) return
        for (const [what, pattern] of forbidden) {
          if (pattern.test(line)) hits.push(`${relative(root, file)}:${i + 1}: ${what}: ${line.trim()}`)
        }
      })
    }
    // the walk found the engine itself, so an empty list means something
    deepStrictEqual(files.some((file) => file.endsWith("internal/jobPool.ts")), true)
    deepStrictEqual(hits, [])
  })

  it("the check catches what it is meant to catch", () => {
    const samples = [
      "fiber.setFiberRefs(refs)",
      "(caller as unknown as { _fiberRefs?: FiberRefs })._fiberRefs",
      "Object.create(Effectable.CommitPrototype)",
      "import * as core from \"effect/internal/core\"",
      "worker.interruptAllChildren()",
      "caller.evaluate(effect)",
      "fiber.runLoop(primitive)",
      "(context as any).cacheRoot",
      "fiber._stack.push(frame)"
    ]
    deepStrictEqual(samples.map((line) => forbidden.some(([, pattern]) => pattern.test(line))), samples.map(() => true))
  })
})
