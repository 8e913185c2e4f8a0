/**
 * Process probes for the tests that spawn the service (Linux: reads /proc).
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Whether a process with this pid exists (and is not a zombie). */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // the state follows the command name in parentheses: Z is a zombie, X dead
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/** Every descendant of a process now, children first. */
export const descendants = (pid: number): Array<number> => {
  const parents = new Map<number, Array<number>>()
  for (const name of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = Fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      const siblings = parents.get(ppid) ?? []
      siblings.push(Number(name))
      parents.set(ppid, siblings)
    } catch {
      // exited while listing
    }
  }
  const out: Array<number> = []
  const visit = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      out.push(child)
      visit(child)
    }
  }
  visit(pid)
  return out
}

/** Resident set size of a process, in bytes. */
export const rssBytes = (pid: number): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) * 1024
}

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A spawned child process with its output, its end, and the processes it started as far as recorded. */
export interface Spawned {
  readonly child: ChildProcess.ChildProcess
  /** stdout and stderr so far, interleaved as they came. */
  readonly output: () => string
  /** Ends when the child has exited (at once if it already has). */
  readonly exited: Effect.Effect<ChildExit>
  /** Records what the child started so far (for checks and the cleanup); every pid recorded yet. */
  readonly record: () => Array<number>
}

/**
 * A child process, its stdout and stderr piped; when the scope closes, it and whatever it was seen to start
 * (by `record`) are SIGKILLed if still there.
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env: Record<string, string | undefined>; readonly cwd?: string | undefined }
): Effect.Effect<Spawned, never, Scope.Scope> =>
  Effect.gen(function*() {
    let output = ""
    const seen = new Set<number>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(command, args, {
          cwd: options.cwd,
          env: { ...process.env, ...options.env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        child.stdout!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        return child
      }),
      (child) =>
        Effect.sync(() => {
          for (const pid of [child.pid!, ...seen]) if (isAlive(pid)) process.kill(pid, "SIGKILL")
        })
    )
    const exited = Effect.callback<ChildExit>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
      }
      child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
    })
    const record = () => {
      for (const pid of descendants(child.pid!)) seen.add(pid)
      return Array.from(seen)
    }
    return { child, output: () => output, exited, record }
  })

/** Ends once `url`'s `/healthz` answers 200, asking every 100 ms while `running` holds. */
export const healthy = (url: string, running: () => boolean) =>
  Effect.tryPromise((signal) => fetch(`${url}/healthz`, { signal })).pipe(
    Effect.filterOrFail((response) => response.status === 200),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), while: running })
  )

/**
 * The PATH of an operator's shell set up as the README says: Node 24 itself first, and none of the
 * `node_modules/.bin` folders the test runner (`pnpm exec vitest`) put in front. There, `node` is pnpm's shim of
 * the workspace's Node 24, a shell script that does not pass signals on, so a `pnpm` (`#!/usr/bin/env node`)
 * started under it would not receive them itself.
 */
export const operatorPath = [
  Path.dirname(process.execPath),
  ...(process.env.PATH ?? "").split(Path.delimiter).filter((dir) => !dir.endsWith(`node_modules${Path.sep}.bin`))
].join(Path.delimiter)
