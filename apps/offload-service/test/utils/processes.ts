/**
 * Process probes for the tests that spawn the service (Linux: reads /proc).
 */
import * as Fs from "node:fs"

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
