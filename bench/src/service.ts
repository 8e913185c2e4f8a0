/**
 * The offload service against what a Node developer would build instead (issue 27): `pnpm start`'s service and
 * its peer in `bench/peer` (Fastify 5 and piscina 5, one worker per core, the same routes and JSON, byte-identical
 * answers: `bench/test/peer.test.ts`), measured side by side in one run, loopback only:
 *
 * - **startup**: milliseconds from launching the process to the first `GET /healthz` 200, alternating the two
 *   (`serviceStartups` times each, after one unmeasured start each that warms the file cache and, for the
 *   service, builds its bundle if it is stale). The service is launched as `pnpm start` launches it
 *   (`node apps/offload-service/scripts/start.mjs`: the bundle's freshness check, then the bundle), without pnpm's
 *   own start-up; the peer as `node bench/peer/server.mjs`.
 * - **throughput**: `POST /jobs?wait=true` of each operation (sha256, ecdsa-p256-sign and rsa2048-sign of 1 KiB at
 *   concurrency 64; scrypt with N = 16384 at concurrency 16) by autocannon in a process of its own, on both
 *   services running side by side with their defaults, in alternating rounds (`serviceRounds`: each round loads
 *   one, then the other, the order swapped every round; a warm-up of `serviceWarmupSeconds`, then
 *   `serviceSeconds` measured). An entry's value is microseconds of wall time per answered request (1 / the
 *   median throughput of 2xx answers), so a ratio below 1 is faster, as elsewhere in the bench.
 * - **rss**: the peak resident set of each process (sampled every 50 ms) while it is under the sha256 load.
 *
 * Each row's `detail` gives what explains it: requests per second, p99 latency, the main thread's CPU time and
 * the whole process's per request (from `/proc`), and the answers that were not 2xx (which a run must not have).
 *
 * Bounded in time: every start waits at most 60 s, every autocannon run is killed 30 s past its duration; a full
 * run takes about six minutes (2 × 6 starts, 4 operations × 3 rounds × 2 services × 13 s), `--quick` under a
 * minute.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import type { Result, Settings } from "./benchmarks.js"
import { row } from "./measure.js"

const host = "127.0.0.1"
const serviceLauncher = fileURLToPath(new URL("../../apps/offload-service/scripts/start.mjs", import.meta.url))
const peerEntry = fileURLToPath(new URL("../peer/server.mjs", import.meta.url))
const autocannonCli = createRequire(import.meta.url).resolve("autocannon/autocannon.js")

/** The two sides, by the name their figures carry. */
const subjects = [
  { name: "service", entry: serviceLauncher },
  { name: "fastify-piscina", entry: peerEntry }
] as const

type SubjectName = (typeof subjects)[number]["name"]

/** The load of each operation: its request body and the clients at once. */
const loads = [
  { op: "sha256", concurrency: 64, body: { op: "sha256", data: "x".repeat(1024) } },
  { op: "ecdsa-p256-sign", concurrency: 64, body: { op: "ecdsa-p256-sign", data: "x".repeat(1024) } },
  { op: "rsa2048-sign", concurrency: 64, body: { op: "rsa2048-sign", data: "x".repeat(1024) } },
  { op: "scrypt", concurrency: 16, body: { op: "scrypt", password: "password", salt: "salt", N: 16384 } }
] as const

const clockTicks = 100 // USER_HZ, what /proc counts CPU time in on Linux

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** CPU seconds of a process's main thread, and of the whole process, so far. */
const cpuSeconds = (pid: number): { readonly main: number; readonly all: number } => {
  const ticks = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12]) // utime, stime
  }
  return {
    main: ticks(Fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")) / clockTicks,
    all: ticks(Fs.readFileSync(`/proc/${pid}/stat`, "utf8")) / clockTicks
  }
}

/** Resident set size of a process now, in MB. */
const rssMb = (pid: number): number => {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? 0 : Number(match[1]) / 1024
}

interface Running {
  readonly child: ChildProcess.ChildProcess
  readonly url: string
  /** milliseconds from the spawn to the first /healthz 200 */
  readonly startupMs: number
}

const exited = (child: ChildProcess.ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/** SIGTERM, then SIGKILL after 15 s; resolves once the process is gone. */
const stop = async (child: ChildProcess.ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
  child.kill("SIGTERM")
  await exited(child)
  clearTimeout(timer)
}

/**
 * Launches `entry` on a free loopback port with its defaults and resolves once `/healthz` answers 200, with the
 * time that took from the spawn; fails after 60 s or if the process exits first.
 */
const launch = (entry: string): Promise<Running> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = ChildProcess.spawn(process.execPath, [entry], {
      env: { ...process.env, PORT: "0", HOST: host },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let settled = false
    const fail = (message: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(new Error(`${entry}: ${message}\n${output.slice(-2000)}`))
    }
    const timer = setTimeout(() => fail("no /healthz 200 within 60 s"), 60_000)
    child.once("exit", (code, signal) => fail(`exited (${signal ?? code}) before it answered`))
    child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
    child.stdout!.on("data", (chunk: Buffer) => {
      const before = output
      output += chunk.toString("utf8")
      const url = /listening on (http:\/\/[^\s]+)/.exec(output)?.[1]
      if (url === undefined || /listening on (http:\/\/[^\s]+)/.test(before)) return
      const probe = (): void => {
        if (settled) return
        fetch(`${url}/healthz`).then(
          (response) => response.status === 200 ? ready(url) : setTimeout(probe, 5),
          () => setTimeout(probe, 5)
        )
      }
      probe()
    })
    const ready = (url: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.removeAllListeners("exit")
      resolve({ child, url: url.replace(/\/$/, ""), startupMs: performance.now() - started })
    }
  })

/** What autocannon reports of one run (its `--json` output, the fields used here). */
interface Cannon {
  readonly "2xx": number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly duration: number
  readonly latency: { readonly p99: number }
}

/** Runs autocannon in a process of its own against `url` for `seconds`; killed 30 s past that. */
const cannon = (url: string, load: (typeof loads)[number], seconds: number): Promise<Cannon> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [
      autocannonCli,
      "--json",
      "-c",
      String(load.concurrency),
      "-d",
      String(seconds),
      "-m",
      "POST",
      "-H",
      "content-type=application/json",
      "-b",
      JSON.stringify(load.body),
      `${url}/jobs?wait=true`
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000)
    child.stdout!.on("data", (chunk: Buffer) => out += chunk.toString("utf8"))
    child.stderr!.on("data", (chunk: Buffer) => err += chunk.toString("utf8"))
    child.once("exit", (code) => {
      clearTimeout(timer)
      try {
        if (code !== 0) throw new Error(`exit ${code}`)
        resolve(JSON.parse(out) as Cannon)
      } catch (error) {
        reject(new Error(`autocannon against ${url}: ${String(error)}\n${err.slice(-2000)}`))
      }
    })
  })

/** One measured run of one side: its throughput and what it cost. */
interface Run {
  readonly rps: number
  readonly p99: number
  readonly notOk: number
  /** CPU µs per answered request: the main thread's, and the whole process's */
  readonly mainCpuUs: number
  readonly allCpuUs: number
}

/** Samples the resident set of `pid` every 50 ms while `during` runs; resolves to its result and the peak. */
const peakRss = async <A>(pid: number, during: Promise<A>): Promise<[A, number]> => {
  let peak = rssMb(pid)
  const timer = setInterval(() => peak = Math.max(peak, rssMb(pid)), 50)
  try {
    const result = await during
    return [result, Math.max(peak, rssMb(pid))]
  } finally {
    clearInterval(timer)
  }
}

const measure = async (side: Running, load: (typeof loads)[number], s: Settings): Promise<[Run, number]> => {
  const pid = side.child.pid!
  const [, warmPeak] = await peakRss(pid, cannon(side.url, load, s.serviceWarmupSeconds))
  const before = cpuSeconds(pid)
  const [result, peak] = await peakRss(pid, cannon(side.url, load, s.serviceSeconds))
  const after = cpuSeconds(pid)
  const ok = result["2xx"]
  const perRequest = (seconds: number) => ok === 0 ? 0 : seconds * 1e6 / ok
  return [{
    rps: ok / result.duration,
    p99: result.latency.p99,
    notOk: result.non2xx + result.errors + result.timeouts,
    mainCpuUs: perRequest(after.main - before.main),
    allCpuUs: perRequest(after.all - before.all)
  }, Math.max(warmPeak, peak)]
}

const round1 = (x: number) => Math.round(x * 10) / 10

export const service = async (s: Settings): Promise<ReadonlyArray<Result>> => {
  const loadBefore = Os.loadavg()[0]!
  // unmeasured: builds the service's bundle if it is stale, warms the file cache of both
  for (const subject of subjects) await stop((await launch(subject.entry)).child)
  const startups: Record<SubjectName, Array<number>> = { service: [], "fastify-piscina": [] }
  for (let i = 0; i < s.serviceStartups; i++) {
    const order = i % 2 === 0 ? subjects : [...subjects].reverse()
    for (const subject of order) {
      const running = await launch(subject.entry)
      startups[subject.name].push(running.startupMs)
      await stop(running.child)
    }
  }

  const running = {
    service: await launch(serviceLauncher),
    "fastify-piscina": await launch(peerEntry)
  } satisfies Record<SubjectName, Running>
  const rows: Array<Result> = []
  const peaks: Record<SubjectName, number> = { service: 0, "fastify-piscina": 0 }
  try {
    for (const load of loads) {
      const runs: Record<SubjectName, Array<Run>> = { service: [], "fastify-piscina": [] }
      for (let round = 0; round < s.serviceRounds; round++) {
        const order = round % 2 === 0 ? subjects : [...subjects].reverse()
        for (const subject of order) {
          const [run, peak] = await measure(running[subject.name], load, s)
          runs[subject.name].push(run)
          if (load.op === "sha256") peaks[subject.name] = Math.max(peaks[subject.name], peak)
        }
      }
      const of = (name: SubjectName, pick: (run: Run) => number) => median(runs[name].map(pick))
      const usPerRequest = (name: SubjectName) => 1e6 / of(name, (run) => run.rps)
      rows.push({
        ...row(`service-${load.op}`, "µs", usPerRequest("service"), {
          "fastify-piscina": usPerRequest("fastify-piscina")
        }),
        detail: {
          "service req/s": round1(of("service", (run) => run.rps)),
          "fastify-piscina req/s": round1(of("fastify-piscina", (run) => run.rps)),
          "service p99 ms": of("service", (run) => run.p99),
          "fastify-piscina p99 ms": of("fastify-piscina", (run) => run.p99),
          "service main-thread CPU µs/req": round1(of("service", (run) => run.mainCpuUs)),
          "fastify-piscina main-thread CPU µs/req": round1(of("fastify-piscina", (run) => run.mainCpuUs)),
          "service process CPU µs/req": round1(of("service", (run) => run.allCpuUs)),
          "fastify-piscina process CPU µs/req": round1(of("fastify-piscina", (run) => run.allCpuUs)),
          "service answers not 2xx": runs.service.reduce((n, run) => n + run.notOk, 0),
          "fastify-piscina answers not 2xx": runs["fastify-piscina"].reduce((n, run) => n + run.notOk, 0)
        }
      })
    }
  } finally {
    await Promise.all(Object.values(running).map((side) => stop(side.child)))
  }
  const loadAfter = Os.loadavg()[0]!
  rows.push(
    {
      ...row("service-startup", "ms", median(startups.service), {
        "fastify-piscina": median(startups["fastify-piscina"])
      }),
      detail: {
        "service min ms": round1(Math.min(...startups.service)),
        "service max ms": round1(Math.max(...startups.service)),
        "fastify-piscina min ms": round1(Math.min(...startups["fastify-piscina"])),
        "fastify-piscina max ms": round1(Math.max(...startups["fastify-piscina"]))
      }
    },
    {
      ...row("service-rss", "MB", peaks.service, { "fastify-piscina": peaks["fastify-piscina"] }),
      detail: { "load average before": loadBefore, "load average after": loadAfter }
    }
  )
  return rows
}
