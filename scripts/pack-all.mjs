// `pnpm pack:all [--out <dir>]`: builds the publishable packages (tsc -b tsconfig.build.json, which emits each
// one's dist/ with stripInternal), removes from dist/ what no source emits any more, and packs each package with
// `pnpm pack` (which writes the exports of publishConfig and turns `workspace:^` into the versions the packages
// are) into <dir>, `packs/` at the root by default. Prints the tarballs' paths, one a line.
//
// The build and the packing write and read the packages' dist/: two runs at once in one checkout (two copies of the
// test suite) take turns, through a lock (a directory under node_modules/.cache, with the pid of its holder; a lock
// whose holder is gone is taken over).
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** The publishable packages, in the order they depend on each other. */
const packages = ["core", "platform-node", "openssl", "testing", "durable"]

const usage = "usage: pnpm pack:all [--out <dir>]"
const args = process.argv.slice(2)
let out = join(root, "packs")
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out" && args[i + 1] !== undefined) out = resolve(args[++i])
  else {
    console.error(usage)
    process.exit(2)
  }
}

const fail = (message) => {
  console.error(`pack:all: ${message}`)
  process.exit(1)
}

const run = (command, commandArgs, cwd) => {
  const result = spawnSync(command, commandArgs, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
  if (result.error) fail(`could not run ${command}: ${result.error.message}`)
  if (result.status !== 0) {
    process.stderr.write(result.stdout)
    fail(`${basename(command)} ${commandArgs.join(" ")} exited with ${result.status ?? result.signal}`)
  }
  return result.stdout
}

// pnpm itself: the one running this script when it is a script of the root package, else the one on the PATH
const pnpm = process.env.npm_execpath !== undefined && /pnpm/.test(basename(process.env.npm_execpath))
  ? [process.execPath, process.env.npm_execpath]
  : ["pnpm"]

// -----------------------------------------------------------------------------
// the lock
// -----------------------------------------------------------------------------

const lock = join(root, "node_modules", ".cache", "async-job-pack-all.lock")
const LOCK_PATIENCE_MS = 10 * 60 * 1000

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error.code === "EPERM"
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const acquire = () => {
  mkdirSync(dirname(lock), { recursive: true })
  const since = Date.now()
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, "pid"), String(process.pid))
      return
    } catch (error) {
      if (error.code !== "EEXIST") throw error
    }
    let holder
    try {
      holder = Number(readFileSync(join(lock, "pid"), "utf8"))
    } catch {
      holder = undefined // just made, its pid not written yet; or just released
    }
    const age = (() => {
      try {
        return Date.now() - statSync(lock).mtimeMs
      } catch {
        return 0
      }
    })()
    // a holder that is gone (or a lock left without a pid for long) leaves the lock to the next
    if (
      (holder !== undefined && Number.isInteger(holder) && holder > 0 && !alive(holder)) ||
      (holder === undefined && age > 60_000)
    ) {
      rmSync(lock, { recursive: true, force: true })
      continue
    }
    if (Date.now() - since > LOCK_PATIENCE_MS) fail(`${relative(root, lock)} is held by process ${holder}`)
    sleep(200)
  }
}

const release = () => {
  try {
    if (Number(readFileSync(join(lock, "pid"), "utf8")) === process.pid) rmSync(lock, { recursive: true, force: true })
  } catch {
    // not held
  }
}

// -----------------------------------------------------------------------------
// build, prune, pack
// -----------------------------------------------------------------------------

/** Every file under `dir`, relative to it. */
const walk = (dir, prefix = "") =>
  readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(dir, join(prefix, entry.name)) : [join(prefix, entry.name)]
  )

/** Removes the files of dist/ whose source is gone (tsc -b leaves the outputs of deleted sources behind). */
const prune = (pkg) => {
  const dist = join(root, "packages", pkg, "dist")
  for (const file of walk(dist)) {
    const source = file.replace(/(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/, ".ts")
    if (source === file || !existsSync(join(root, "packages", pkg, "src", source))) rmSync(join(dist, file))
  }
}

acquire()
process.on("exit", release)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    release()
    process.exit(1)
  })
}

const require = createRequire(join(root, "package.json"))
run(process.execPath, [require.resolve("typescript/bin/tsc"), "-b", "tsconfig.build.json"], root)
for (const pkg of packages) prune(pkg)

mkdirSync(out, { recursive: true })
const tarballs = []
for (const pkg of packages) {
  const dir = join(root, "packages", pkg)
  const { name } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  // a tarball of an earlier version would be installed beside this one by `pnpm add <dir>/*.tgz`
  const prefix = `${name.replace(/^@/, "").replace("/", "-")}-`
  for (const old of readdirSync(out)) {
    if (old.startsWith(prefix) && /^\d/.test(old.slice(prefix.length)) && old.endsWith(".tgz")) rmSync(join(out, old))
  }
  const [command, ...prefixArgs] = pnpm
  const packed = JSON.parse(run(command, [...prefixArgs, "pack", "--json", "--pack-destination", out], dir))
  tarballs.push(resolve(dir, packed.filename))
}
release()
for (const tarball of tarballs) console.log(tarball)
