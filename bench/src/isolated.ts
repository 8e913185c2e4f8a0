/**
 * Runs one entry in a process of its own (an entry with `process: "own"`): `main.ts` forks this module with its own
 * Node flags, the entry's name and the run's settings, and receives the entry's rows as one IPC message.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as benchmarks from "./benchmarks.js"

type Rows = benchmarks.Result | ReadonlyArray<benchmarks.Result>

/** Runs `entry` with `settings` in a child process started with this process's Node flags. */
export const runIsolated = (entry: benchmarks.Entry, settings: benchmarks.Settings): Promise<Rows> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [entry.name, JSON.stringify(settings)], {
      execArgv: process.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let rows: Rows | undefined
    child.on("message", (message) => {
      rows = message as Rows
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (rows !== undefined && code === 0) resolve(rows)
      else reject(new Error(`bench entry ${entry.name}: its process exited (${signal ?? code}) without its rows`))
    })
  })

// the child: run the entry named on the command line, send its rows, exit
if (process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, settings] = process.argv.slice(2)
  const entry = benchmarks.all.find((e) => e.name === name)
  if (entry === undefined) throw new Error(`no bench entry ${name}`)
  const rows = await entry.run(JSON.parse(settings!) as benchmarks.Settings)
  process.send(rows, () => process.disconnect())
}
