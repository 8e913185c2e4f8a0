/**
 * The packages as a user gets them today: packed by `pnpm pack:all` (which builds first), installed from the
 * tarballs into a project of their own outside the workspace, once with `pnpm add` and once with `npm install`,
 * type-checked with the workspace's TypeScript and run on the workspace's Node (the README's: the one running
 * this test). What runs: the getting-started page's first job (docs/examples/first-job.ts), the man page's example
 * on @async-job/openssl and @async-job/platform-node (apps/example/src/main.ts, whose addon the install built), a
 * vitest file with @async-job/testing's TestEngine and its pool contract suite, and a durable job on SQLite that
 * one process starts and a second one approves and resumes.
 *
 * Everything it installs comes from the npm registry, through the package managers' own caches (the pnpm store
 * that `pnpm install` filled, so the pnpm project is quick; npm's cache). Everything it writes is under one fresh
 * temporary folder, removed at the end; the packing takes its turn with another run in the same checkout.
 */
import { afterAll, beforeAll, describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const fixture = Path.join(root, "compat", "packed", "project")

/** The publishable packages: their folders under packages/. */
const packages = ["core", "platform-node", "openssl", "testing", "durable"] as const

/** The version of a dependency of the workspace's root, as installed: the scratch projects ask for the same. */
const versionOf = (name: string): string =>
  JSON.parse(Fs.readFileSync(Path.join(root, "node_modules", name, "package.json"), "utf8")).version

const MINUTE = 60_000

// -----------------------------------------------------------------------------
// processes
// -----------------------------------------------------------------------------

/**
 * The environment of every command: this test's, without what pnpm and vitest set for the workspace (its config
 * as `npm_config_*`, its package, vitest's markers), and with this Node first on the PATH, so that pnpm, npm and
 * the install scripts they run (the addon's build) run on it.
 */
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([key]) =>
      !/^(npm_|pnpm_|INIT_CWD$|VITEST|TEST$|NODE_ENV$|NODE_OPTIONS$|NODE_PATH$)/i.test(key)
    )
  ),
  PATH: `${Path.dirname(process.execPath)}${Path.delimiter}${process.env.PATH ?? ""}`,
  npm_config_update_notifier: "false"
}

/** pnpm: the one running `pnpm test`, else the one on the PATH. */
const pnpm: ReadonlyArray<string> = process.env.npm_execpath !== undefined &&
    /pnpm/.test(Path.basename(process.env.npm_execpath))
  ? [process.execPath, process.env.npm_execpath]
  : ["pnpm"]

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a command to its end, or kills it (with everything it started: its process group) after `timeout`.
 * Fails unless it exits with 0, with its output in the message.
 */
const run = (
  command: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeout: number }
): Effect.Effect<Ran, Error> =>
  Effect.callback<Ran, Error>((resume) => {
    const [file, ...args] = command
    const child = spawn(file!, args, { cwd: options.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, options.timeout)
    child.on("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      const shown = `$ ${command.join(" ")} (in ${options.cwd})\n--- stdout\n${stdout.slice(-8000)}\n--- stderr\n${
        stderr.slice(-8000)
      }`
      if (timedOut) resume(Effect.fail(new Error(`timed out after ${options.timeout} ms\n${shown}`)))
      else if (code !== 0) resume(Effect.fail(new Error(`exited with ${code}\n${shown}`)))
      else resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      killGroup()
    })
  })

const node = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  run([process.execPath, file, ...args], { cwd, timeout: 2 * MINUTE })

const readText = (file: string) => Fs.readFileSync(file, "utf8")

// -----------------------------------------------------------------------------
// the scratch folder and the tarballs
// -----------------------------------------------------------------------------

const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "async-job-packed-"))
const packs = Path.join(scratch, "packs")
let tarballs: ReadonlyArray<string> = []

beforeAll(async () => {
  const ran = await Effect.runPromise(
    node(Path.join(root, "scripts", "pack-all.mjs"), ["--out", packs], root).pipe(
      // the build is tsc's, on a busy machine, maybe after another run's turn
      Effect.timeout(20 * MINUTE)
    )
  )
  tarballs = ran.stdout.split("\n").filter((line) => line.endsWith(".tgz"))
}, 21 * MINUTE)

afterAll(() => {
  Fs.rmSync(scratch, { recursive: true, force: true })
})

/** Every file under `dir`, relative to it, with `/`. */
const walk = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => Path.relative(dir, Path.join(entry.parentPath, entry.name)).split(Path.sep).join("/"))
    .sort()

// -----------------------------------------------------------------------------
// the scratch projects
// -----------------------------------------------------------------------------

/** The getting-started page's compiler settings, emitting to out/ so that the examples run as JavaScript. */
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    rootDir: ".",
    outDir: "out"
  },
  include: ["src", "test"]
}

/**
 * A project of a user's own: a package.json (with the test tools as dev dependencies), the page's tsconfig, and
 * the examples: first-job.ts from the docs, the man page's example from apps/example, and this test's own.
 */
const makeProject = (name: string): string => {
  const dir = Path.join(scratch, name)
  Fs.mkdirSync(dir)
  Fs.writeFileSync(
    Path.join(dir, "package.json"),
    JSON.stringify(
      {
        name: "my-jobs",
        private: true,
        type: "module",
        devDependencies: {
          "@effect/vitest": versionOf("@effect/vitest"),
          "@types/node": versionOf("@types/node"),
          vitest: versionOf("vitest")
        }
      },
      null,
      2
    )
  )
  Fs.writeFileSync(Path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
  Fs.cpSync(fixture, dir, { recursive: true })
  Fs.copyFileSync(Path.join(root, "docs", "examples", "first-job.ts"), Path.join(dir, "src", "first-job.ts"))
  Fs.mkdirSync(Path.join(dir, "src", "man-page"))
  for (const file of ["main.ts", "stdio.ts"]) {
    Fs.copyFileSync(Path.join(root, "apps", "example", "src", file), Path.join(dir, "src", "man-page", file))
  }
  return dir
}

/** The tarballs, as a path from `dir` (`pnpm add ../packs/*.tgz`). */
const tarballArgs = (dir: string) => {
  assertTrue(tarballs.length === packages.length, `pack:all printed ${tarballs.length} tarballs`)
  return tarballs.map((tarball) => Path.relative(dir, tarball))
}

/** The checks every installed project gets: the addon was built, the project type-checks, and the examples run. */
const checkProject = (dir: string) =>
  Effect.gen(function*() {
    const addon = Path.join(dir, "node_modules", "@async-job", "platform-node", "build", "Release", "async_job_fd.node")
    assertTrue(Fs.existsSync(addon), `the install built ${addon}`)

    // type-check (and emit to out/) with the workspace's TypeScript
    yield* run([process.execPath, Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], {
      cwd: dir,
      timeout: 5 * MINUTE
    })

    // the getting-started page's first job prints what the page shows
    const firstJob = yield* node(Path.join("out", "src", "first-job.js"), [], dir)
    strictEqual(firstJob.stdout, readText(Path.join(root, "docs", "examples", "first-job.output.txt")))

    // the man page's example, on @async-job/openssl and real pipes, prints the man page's lines
    const manPage = yield* node(Path.join("out", "src", "man-page", "main.js"), [], dir)
    strictEqual(manPage.stdout, readText(Path.join(root, "docs", "examples", "man-page.output.txt")))

    // a durable job on SQLite: started by one process, approved and resumed by the next
    const db = Path.join(dir, "db")
    Fs.mkdirSync(db)
    const started = yield* node(Path.join("out", "src", "durable", "start.js"), [db], dir)
    strictEqual(started.stdout, "start o-1: Paused on 1 token\npaused jobs: 1\n")
    const resumed = yield* node(Path.join("out", "src", "durable", "resume.js"), [db], dir)
    strictEqual(
      resumed.stdout,
      "poll o-1: Paused\nresume o-1: Finished: paid 5 for o-1\npaused jobs: 0\n"
    )

    // a user's vitest file with the testing package: TestEngine and the pool contract suite
    const report = Path.join(dir, "vitest-report.json")
    yield* run(
      [
        process.execPath,
        Path.join(dir, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--dir",
        "test",
        "--reporter=default",
        "--reporter=json",
        `--outputFile.json=${report}`
      ],
      { cwd: dir, timeout: 5 * MINUTE }
    )
    const results = JSON.parse(readText(report))
    assertTrue(results.numPassedTests > 10, `the contract suite ran (${results.numPassedTests} passed)`)
    deepStrictEqual(
      [results.numFailedTests, results.numPendingTests, results.numTotalTests],
      [0, 0, results.numPassedTests]
    )
    assertTrue(
      results.testResults.some((file: { readonly assertionResults: ReadonlyArray<{ readonly title: string }> }) =>
        file.assertionResults.some((test) => test.title.includes("until the test completes its operation"))
      ),
      "the TestEngine test ran"
    )
  })

// -----------------------------------------------------------------------------
// the tests
// -----------------------------------------------------------------------------

describe("the packed packages", () => {
  it("pack:all makes one tarball per publishable package", () => {
    deepStrictEqual(
      tarballs.map((tarball) => Path.basename(tarball)).sort(),
      packages.map((pkg) => {
        const { name, version } = JSON.parse(readText(Path.join(root, "packages", pkg, "package.json")))
        return `${name.slice(1).replace("/", "-")}-${version}.tgz`
      }).sort()
    )
    for (const tarball of tarballs) strictEqual(Path.dirname(tarball), packs)
  })

  for (const pkg of packages) {
    it.live(
      `${pkg}: dist, the sources its maps point to, README, LICENSE and package.json, and nothing else`,
      () =>
        Effect.gen(function*() {
          const tarball = tarballs.find((file) => Path.basename(file).startsWith(`async-job-${pkg}-`))
          assertTrue(tarball !== undefined, `a tarball of ${pkg}`)
          const unpacked = Path.join(scratch, "unpacked", pkg)
          Fs.mkdirSync(unpacked, { recursive: true })
          yield* run(["tar", "-xzf", tarball!, "-C", unpacked], { cwd: scratch, timeout: MINUTE })
          const dir = Path.join(unpacked, "package")
          const files = walk(dir)
          const native = pkg === "platform-node" ? /^(binding\.gyp|native\/[^/]+\.c|scripts\/build-native\.mjs)$/ : /^$/
          deepStrictEqual(
            files.filter((file) =>
              !/^(package\.json|README\.md|LICENSE|(dist|src)\/.+)$/.test(file) && !native.test(file)
            ),
            []
          )
          deepStrictEqual(
            files.filter((file) => /(^|\/)(test|dtslint|build)\/|tsbuildinfo|tsconfig|vitest/.test(file)),
            []
          )
          for (const required of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]) {
            assertTrue(files.includes(required), `${pkg} ships ${required}`)
          }
          // the repository's MIT license, which every package.json names
          strictEqual(readText(Path.join(dir, "LICENSE")), readText(Path.join(root, "LICENSE")))
          assertTrue(readText(Path.join(root, "LICENSE")).startsWith("MIT License\n"))

          // every module of src/ is emitted with its declarations and maps, and every map points into the package
          const sources = files.filter((file) => file.startsWith("src/"))
          assertTrue(sources.length > 0)
          for (const source of sources) {
            const base = source.replace(/^src\//, "dist/").replace(/\.ts$/, "")
            for (const emitted of [".js", ".js.map", ".d.ts", ".d.ts.map"]) {
              assertTrue(files.includes(base + emitted), `${pkg}: ${source} is emitted as ${base}${emitted}`)
            }
          }
          for (const map of files.filter((file) => file.endsWith(".map"))) {
            const { sources: pointed }: { readonly sources: ReadonlyArray<string> } = JSON.parse(
              readText(Path.join(dir, map))
            )
            for (const source of pointed) {
              const target = Path.relative(dir, Path.resolve(Path.dirname(Path.join(dir, map)), source))
              assertTrue(files.includes(target.split(Path.sep).join("/")), `${pkg}: ${map} points to ${target}`)
            }
          }

          // the exports a user resolves, ./package.json among them, and the dependencies as versions
          const manifest = JSON.parse(readText(Path.join(dir, "package.json")))
          strictEqual(manifest.license, "MIT")
          strictEqual(manifest.exports["./package.json"], "./package.json")
          deepStrictEqual(manifest.exports["."], { types: "./dist/index.d.ts", default: "./dist/index.js" })
          deepStrictEqual(manifest.exports["./*"], { types: "./dist/*.d.ts", default: "./dist/*.js" })
          for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
            for (const [name, range] of Object.entries<string>(manifest[field] ?? {})) {
              assertTrue(!/^(workspace|catalog):/.test(range), `${pkg}: ${field}.${name} is ${range}`)
              if (name.startsWith("@async-job/")) {
                const { version } = JSON.parse(readText(Path.join(root, "packages", name.slice(11), "package.json")))
                strictEqual(range, `^${version}`)
                strictEqual(field, "peerDependencies", `${pkg}: ${name} is a peer (one copy of core per project)`)
              }
            }
          }
          if (pkg === "platform-node") {
            strictEqual(manifest.scripts?.install, "node scripts/build-native.mjs")
            assertTrue(manifest.dependencies?.["node-gyp"] !== undefined, "node-gyp comes with the package")
          }
        }),
      MINUTE
    )
  }

  it.live("install together with pnpm add; the project type-checks and its examples run", () =>
    Effect.gen(function*() {
      const dir = makeProject("pnpm-project")
      yield* run(
        [...pnpm, "add", "--prefer-offline", `effect@${versionOf("effect")}`, ...tarballArgs(dir)],
        { cwd: dir, timeout: 10 * MINUTE }
      )
      // pnpm runs no install script of a dependency until it is approved: the addon's build
      yield* run([...pnpm, "approve-builds", "--all"], { cwd: dir, timeout: 5 * MINUTE })
      const manifest = JSON.parse(readText(Path.join(dir, "package.json")))
      for (const pkg of packages) {
        assertTrue(String(manifest.dependencies[`@async-job/${pkg}`]).endsWith(".tgz"), `@async-job/${pkg} is added`)
      }
      yield* checkProject(dir)
    }), 30 * MINUTE)

  it.live(
    "install together with npm install; the project type-checks and its examples run",
    () =>
      Effect.gen(function*() {
        const dir = makeProject("npm-project")
        yield* run(
          [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            `effect@${versionOf("effect")}`,
            ...tarballArgs(dir)
          ],
          { cwd: dir, timeout: 15 * MINUTE }
        )
        yield* checkProject(dir)
      }),
    35 * MINUTE
  )
})
