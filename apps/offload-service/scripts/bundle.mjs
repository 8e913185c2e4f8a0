// @ts-check
/**
 * The service as built JavaScript: `src/main.ts` and the engine's worker entry bundled with esbuild, with the
 * workspace packages and the dependencies they import, into `dist/<build>/` (`main.js`, `cryptoWorker.js`, and one
 * chunk per module loaded only on demand: the durable store and its drivers, OpenTelemetry's exporters, the
 * Swagger UI). `pnpm start` runs it (`start.mjs`), so that the service starts without transpiling a thousand
 * modules first.
 *
 * A stale bundle never runs: `dist/bundle.json` lists every file the bundle was built from (the metafile's inputs,
 * with the package manifests and the lockfile), and the bundle is current only while each of them exists and is
 * older than the build. Otherwise {@link freshBundle} builds it again first (silently, a few seconds). Builds
 * write to a new directory and then replace the manifest by a rename, so that two processes starting at once
 * both run a whole bundle.
 *
 * `pnpm --filter @async-job/offload-service bundle` builds it ahead (it prints where).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const app = fileURLToPath(new URL("..", import.meta.url))
const root = Path.resolve(app, "..", "..")
/** Where `pnpm start`'s bundle is built. */
export const defaultDist = Path.join(app, "dist")

const manifestOf = (/** @type {string} */ dist) => Path.join(dist, "bundle.json")

/** Builds older than this, other than the current one, are removed by the next build. */
const keepOldBuildsMs = 10 * 60 * 1000

/**
 * @typedef {object} Manifest
 * @property {string} dir the build's directory under `dist/`
 * @property {number} builtAt epoch milliseconds at which the build began
 * @property {ReadonlyArray<string>} inputs every file the build read (absolute paths)
 */

/**
 * @param {string} dist
 * @returns {Manifest | undefined}
 */
export const readManifest = (dist) => {
  try {
    return JSON.parse(Fs.readFileSync(manifestOf(dist), "utf8"))
  } catch {
    return undefined
  }
}

/**
 * Whether the manifest's bundle may run: it is there, and every input exists and is no newer than the build.
 *
 * @param {Manifest} manifest
 * @param {string} dist
 */
export const isFresh = (manifest, dist) => {
  if (!Fs.existsSync(Path.join(dist, manifest.dir, "main.js"))) return false
  for (const input of manifest.inputs) {
    let stat
    try {
      stat = Fs.statSync(input)
    } catch {
      return false
    }
    if (stat.mtimeMs > manifest.builtAt) return false
  }
  return true
}

/** Files that change what the bundle would be without being read as modules: manifests, lockfile, this script. */
const buildInputs = () => {
  const files = [
    fileURLToPath(import.meta.url),
    Path.join(app, "package.json"),
    Path.join(root, "package.json"),
    Path.join(root, "pnpm-lock.yaml"),
    Path.join(root, "pnpm-workspace.yaml")
  ]
  for (const dir of ["packages", "apps"]) {
    for (const name of Fs.readdirSync(Path.join(root, dir))) {
      const manifest = Path.join(root, dir, name, "package.json")
      if (Fs.existsSync(manifest)) files.push(manifest)
    }
  }
  return files
}

/**
 * Removes the builds other than `keep` once they are old enough that no process starts them any more.
 *
 * @param {string} dist
 * @param {ReadonlyArray<string>} keep
 */
const prune = (dist, keep) => {
  const now = Date.now()
  for (const name of Fs.readdirSync(dist)) {
    const dir = Path.join(dist, name)
    try {
      const stat = Fs.statSync(dir)
      if (keep.includes(name) || !stat.isDirectory() || now - stat.mtimeMs <= keepOldBuildsMs) continue
      Fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // removed meanwhile by another build
    }
  }
}

/**
 * Builds the bundle into a new directory of `dist` and makes it the current one.
 *
 * @param {string} [dist]
 * @returns {Promise<string>} the path of its `main.js`
 */
export const build = async (dist = defaultDist) => {
  const esbuild = await import("esbuild")
  const builtAt = Date.now()
  const dir = `${builtAt.toString(36)}-${process.pid}`
  const outdir = Path.join(dist, dir)
  const result = await esbuild.build({
    absWorkingDir: app,
    entryPoints: { main: "src/main.ts", cryptoWorker: "src/engine/cryptoWorker.js" },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    // no keepNames: its __name() wrapper runs each time a closure is made, a cost on every request
    metafile: true,
    logLevel: "error",
    // pg's optional native binding, which it requires only when asked to
    external: ["pg-native"],
    // CommonJS dependencies (OpenTelemetry, pg) call require() for node's modules
    banner: {
      js:
        "import { createRequire as __bundleRequire } from \"node:module\"; const require = __bundleRequire(import.meta.url);"
    }
  })
  const inputs = Object.keys(result.metafile.inputs).map((input) => Path.resolve(app, input))
  /** @type {Manifest} */
  const manifest = { dir, builtAt, inputs: [...inputs, ...buildInputs()] }
  const temporary = `${manifestOf(dist)}.${process.pid}.tmp`
  Fs.writeFileSync(temporary, JSON.stringify(manifest))
  Fs.renameSync(temporary, manifestOf(dist))
  prune(dist, [dir])
  return Path.join(outdir, "main.js")
}

/**
 * The URL of the current bundle's `main.js` in `dist`, built first if there is none or it is stale.
 *
 * @param {string} [dist]
 * @returns {Promise<string>}
 */
export const freshBundle = async (dist = defaultDist) => {
  const manifest = readManifest(dist)
  if (manifest !== undefined && isFresh(manifest, dist)) {
    return pathToFileURL(Path.join(dist, manifest.dir, "main.js")).href
  }
  return pathToFileURL(await build(dist)).href
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const main = await build()
  console.log(`built ${Path.relative(process.cwd(), main)}`)
}
