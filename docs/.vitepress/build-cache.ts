/**
 * What the docs build keeps from one run to the next, so that a build redoes only what changed.
 *
 * - `inputsDigest`: one hash over the files a result depends on (their paths and contents).
 * - `twoslashTypesCache`: twoslash's results (the types of every name in a code block, and the check that the block
 *   type-checks), stored per block under `.vitepress/cache/twoslash/` and reused when neither the block nor anything
 *   it compiles against changed: the workspace's sources (`packages/*`, `apps/*`), the lockfile (every third-party
 *   version), and the site's config (the compiler options). A block that does not type-check is never stored, so it
 *   fails every build until it is fixed.
 *
 * `scripts/gen-api.ts` keeps its own stamps the same way (`inputsDigest` of a package's sources and of those it
 * depends on).
 */
import type { TwoslashTypesCache } from "@shikijs/vitepress-twoslash"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
export const rootDir = Path.resolve(docsDir, "..")

/** Folders never read for a digest. */
const skipped = new Set(["node_modules", "dist", "build", ".vitepress", "generated", ".screenshots"])

/** The files under a folder (or the file itself), sorted, skipping dependencies and build output. */
export const filesUnder = (path: string, accept: (file: string) => boolean = () => true): Array<string> => {
  if (!Fs.existsSync(path)) return []
  if (Fs.statSync(path).isFile()) return accept(path) ? [path] : []
  const files: Array<string> = []
  for (const entry of Fs.readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && skipped.has(entry.name)) continue
    const full = Path.join(path, entry.name)
    if (entry.isDirectory()) files.push(...filesUnder(full, accept))
    else if (entry.isFile() && accept(full)) files.push(full)
  }
  return files.sort()
}

/** A hash of the given files (path relative to the repository, and content) and of any extra strings. */
export const inputsDigest = (files: ReadonlyArray<string>, extra: ReadonlyArray<string> = []): string => {
  const hash = createHash("sha256")
  for (const file of [...new Set(files)].sort()) {
    hash.update(Path.relative(rootDir, file)).update("\0").update(Fs.readFileSync(file)).update("\0")
  }
  for (const s of extra) hash.update(s).update("\0")
  return hash.digest("hex").slice(0, 16)
}

const isSource = (file: string): boolean => /\.(?:ts|mts|cts|json)$/.test(file) && !file.endsWith(".tsbuildinfo")

/** The sources and the manifest of every workspace package and app (`packages/*`, `apps/*`): not their tests. */
export const workspaceSources = (): Array<string> =>
  ["packages", "apps"].flatMap((group) => {
    const groupDir = Path.join(rootDir, group)
    return (Fs.existsSync(groupDir) ? Fs.readdirSync(groupDir) : []).flatMap((name) => [
      ...filesUnder(Path.join(groupDir, name, "src"), isSource),
      ...filesUnder(Path.join(groupDir, name, "package.json"))
    ])
  })

/** What every twoslash block compiles against: the workspace's sources and manifests, the lockfile, the config. */
const twoslashInputs = (): Array<string> => [
  ...workspaceSources(),
  Path.join(rootDir, "pnpm-lock.yaml"),
  Path.join(rootDir, "tsconfig.base.json"),
  Path.join(docsDir, ".vitepress", "config.ts"),
  Path.join(docsDir, ".vitepress", "twoslash-includes.ts"),
  Path.join(docsDir, ".vitepress", "build-cache.ts")
]

/**
 * twoslash's results, on disk, in a folder named after the digest of everything the blocks compile against: when
 * that changes, the folder of the previous inputs is removed and every block is compiled again.
 */
export const twoslashTypesCache = (
  dir: string = Path.join(docsDir, ".vitepress", "cache", "twoslash")
): TwoslashTypesCache => {
  const generation = inputsDigest(twoslashInputs())
  const folder = Path.join(dir, generation)
  const fileOf = (code: string) => Path.join(folder, `${createHash("sha256").update(code).digest("hex")}.json`)
  return {
    init() {
      for (const old of Fs.existsSync(dir) ? Fs.readdirSync(dir) : []) {
        if (old !== generation) Fs.rmSync(Path.join(dir, old), { recursive: true, force: true })
      }
      Fs.mkdirSync(folder, { recursive: true })
    },
    read(code) {
      const file = fileOf(code)
      return Fs.existsSync(file) ? JSON.parse(Fs.readFileSync(file, "utf8")) : null
    },
    write(code, data) {
      // Written whole or not at all: a build stopped halfway leaves no truncated entry behind.
      const file = fileOf(code)
      const partial = `${file}.${process.pid}.tmp`
      Fs.writeFileSync(partial, JSON.stringify(data))
      Fs.renameSync(partial, file)
    }
  }
}
