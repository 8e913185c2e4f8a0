/**
 * A reference model of the spec (§1, §2 and the port decisions), in plain
 * TypeScript with no Effect: what each step of a program must answer, which
 * events and cleanups it must cause, in which order, and the counts after it.
 *
 * Log lines, shared with the harness:
 * - engine events: `Started p0 j1`, `Paused p0 j1`, `Resumed p0 j1`,
 *   `Ended p0 j1 finished|failed|cancelled`, `NoJobs p0`,
 *   `CancelRequested p0 j1`, `PoolClosed p0`, `CleanupRan w0 k2 e5`,
 *   `WaitCtxClosed w0`;
 * - the harness's own: `fin j1` (the job body's finalizer),
 *   `fdclean w0 e5` (an fd's cleanup routine).
 *
 * Pools and wait ctxs are numbered by their index in the program, jobs from 1
 * in order of start, fd entries from 1 in order of registration.
 */
import type { End, Instr, Op, PoolSpec, Program, Script } from "./program.js"

export type JobState = "running" | "paused" | "finished" | "failed" | "cancelled"

/** What a step answers, as a short string: `paused`, `finished:7`, `fail:NoJobsError`, `die:ClosedError`, ... */
export type Outcome = string

export interface ModelPool {
  maxSize: number
  created: number
  idle: number
  running: number
  paused: number
  closed: boolean
}

export interface ModelEntry {
  readonly id: number
  readonly key: number
  readonly cleanup: boolean
  add: boolean
  del: boolean
}

export interface ModelCtx {
  /** oldest first */
  entries: Array<ModelEntry>
  closed: boolean
}

export interface ModelJob {
  readonly id: number
  readonly pool: number
  readonly ctx: number | null
  readonly script: Script
  pc: number
  blocked: number
  state: JobState
}

/** What the harness must do while a job hangs in a segment. */
export type HangAction = Extract<End, { _tag: "Hang" }>["then"]

export interface StepPrediction {
  readonly outcome: Outcome
  readonly log: ReadonlyArray<string>
  /** the job that runs a segment in this step, if any */
  readonly job: ModelJob | undefined
  /** the job a Resume or Cancel addresses */
  readonly target: ModelJob | undefined
  /** set when that segment hangs: what the harness does to it (after probing it) */
  readonly hang: HangAction | undefined
  /** whether the order of different jobs' lines in this step is unspecified (concurrent cancellation) */
  readonly concurrent: boolean
}

export class Model {
  readonly pools: Array<ModelPool>
  readonly ctxs: Array<ModelCtx>
  readonly jobs: Array<ModelJob> = []
  /** fd entries ever registered, by id; `closed` once cleared or cleaned up */
  readonly fds = new Map<number, { readonly ctx: number; readonly cleanup: boolean; closed: boolean }>()
  private nextEntry = 1
  private log: Array<string> = []

  constructor(program: Program) {
    this.pools = program.pools.map((spec: PoolSpec) => ({
      maxSize: spec.maxSize,
      created: spec.initSize,
      idle: spec.initSize,
      running: 0,
      paused: 0,
      closed: false
    }))
    this.ctxs = Array.from({ length: program.ctxs }, () => ({ entries: [], closed: false }))
  }

  pausedJobs(): Array<ModelJob> {
    return this.jobs.filter((job) => job.state === "paused")
  }

  /** The job a Resume or Cancel step addresses, or undefined when there is none. */
  pick(op: { readonly job: number; readonly paused: boolean }): ModelJob | undefined {
    const among = op.paused ? this.pausedJobs() : this.jobs
    return among.length === 0 ? undefined : among[op.job % among.length]
  }

  liveEntries(ctx: number): Array<ModelEntry> {
    return this.ctxs[ctx]!.entries.filter((entry) => !entry.del).reverse()
  }

  changed(ctx: number): { added: Array<number>; deleted: Array<number> } {
    const newestFirst = this.ctxs[ctx]!.entries.slice().reverse()
    return {
      added: newestFirst.filter((entry) => entry.add && !entry.del).map((entry) => entry.id),
      deleted: newestFirst.filter((entry) => entry.del && !entry.add).map((entry) => entry.id)
    }
  }

  /** Runs one step of the program in the model. */
  step(op: Op): StepPrediction {
    this.log = []
    let outcome: Outcome = "void"
    let job: ModelJob | undefined
    let target: ModelJob | undefined
    let hang: HangAction | undefined
    let concurrent = false
    switch (op._tag) {
      case "Start": {
        const pool = this.pools[op.pool]!
        if (pool.closed) {
          outcome = "die:ClosedError"
          break
        }
        if (pool.maxSize > 0 && pool.running + pool.paused >= pool.maxSize) {
          this.log.push(`NoJobs p${op.pool}`)
          outcome = "fail:NoJobsError"
          break
        }
        if (op.ctx !== null && this.ctxs[op.ctx]!.closed) {
          outcome = "die:ClosedError"
          break
        }
        if (pool.idle > 0) pool.idle--
        else pool.created++
        pool.running++
        job = {
          id: this.jobs.length + 1,
          pool: op.pool,
          ctx: op.ctx,
          script: op.script,
          pc: 0,
          blocked: 0,
          state: "running"
        }
        this.jobs.push(job)
        this.log.push(`Started p${op.pool} j${job.id}`)
        ;[outcome, hang] = this.segment(job)
        break
      }
      case "Resume":
      case "Cancel": {
        target = this.pick(op)
        if (target === undefined) {
          outcome = "skip"
          break
        }
        const via = op.via ?? target.pool
        const refused = this.refuse(target, via)
        if (refused !== undefined) {
          outcome = refused
          break
        }
        const pool = this.pools[via]!
        if (op._tag === "Cancel") {
          this.log.push(`CancelRequested p${via} j${target.id}`)
          this.end(target, "cancelled")
          break
        }
        job = target
        target.state = "running"
        pool.paused--
        pool.running++
        this.log.push(`Resumed p${via} j${target.id}`)
        // the epoch reset of §2.8 (the ctx is open: closing it cancels its jobs)
        if (target.ctx !== null) this.reset(target.ctx)
        ;[outcome, hang] = this.segment(target)
        break
      }
      case "SetFd": {
        const ctx = this.ctxs[op.ctx]!
        if (ctx.closed) {
          outcome = "die:ClosedError"
          break
        }
        this.setFd(op.ctx, op.key, op.cleanup)
        break
      }
      case "ClearFd": {
        const ctx = this.ctxs[op.ctx]!
        if (ctx.closed) {
          outcome = "die:ClosedError"
          break
        }
        outcome = `bool:${this.clearFd(op.ctx, op.key)}`
        break
      }
      case "CloseCtx":
        concurrent = true
        this.closeCtx(op.ctx)
        break
      case "ClosePool":
        concurrent = true
        this.closePool(op.pool)
        break
      case "Reconfigure": {
        const pool = this.pools[op.pool]!
        if (pool.closed) {
          outcome = "skip"
          break
        }
        pool.maxSize = op.maxSize
        while (pool.created < op.initSize) {
          pool.created++
          pool.idle++
        }
        break
      }
    }
    return { outcome, log: this.log, job, target, hang, concurrent }
  }

  /** While a job hangs, the harness interrupts it in one of three ways; returns the lines it causes. */
  hang(job: ModelJob, action: HangAction): { readonly log: ReadonlyArray<string>; readonly concurrent: boolean } {
    this.log = []
    if (action === "closePool") {
      this.closePool(job.pool)
      return { log: this.log, concurrent: true }
    }
    if (action === "closeCtx" && job.ctx !== null) {
      this.closeCtx(job.ctx)
      return { log: this.log, concurrent: true }
    }
    this.end(job, "cancelled")
    return { log: this.log, concurrent: false }
  }

  /** Closes everything still open, wait ctxs first, as the end of a program does. */
  closeAll(): ReadonlyArray<ReadonlyArray<string>> {
    const logs: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < this.ctxs.length; i++) {
      this.log = []
      this.closeCtx(i)
      logs.push(this.log)
    }
    for (let i = 0; i < this.pools.length; i++) {
      this.log = []
      this.closePool(i)
      logs.push(this.log)
    }
    return logs
  }

  private refuse(job: ModelJob, via: number): Outcome | undefined {
    if (via !== job.pool) return "fail:ForeignJobError"
    switch (job.state) {
      case "paused":
        return undefined
      case "running":
        return "fail:JobNotPausedError"
      default:
        return "fail:StaleJobError"
    }
  }

  /** Runs a job from its pc until it pauses, ends or hangs. */
  private segment(job: ModelJob): [Outcome, HangAction | undefined] {
    const { instrs, end } = job.script
    while (job.pc < instrs.length) {
      const instr: Instr = instrs[job.pc++]!
      switch (instr._tag) {
        // to the model, a pause inside an uninterruptible region or a finalizer is a pause
        case "Pause":
        case "PauseUninterruptible":
        case "PauseInFinalizer":
          if (job.blocked > 0) break
          job.state = "paused"
          this.pools[job.pool]!.running--
          this.pools[job.pool]!.paused++
          this.log.push(`Paused p${job.pool} j${job.id}`)
          return ["paused", undefined]
        case "Block":
          job.blocked++
          break
        case "Unblock":
          if (job.blocked > 0) job.blocked--
          break
        case "SetFd":
          if (job.ctx !== null) this.setFd(job.ctx, instr.key, instr.cleanup)
          break
        case "ClearFd":
          if (job.ctx !== null) this.clearFd(job.ctx, instr.key)
          break
      }
    }
    switch (end._tag) {
      case "Return":
        this.end(job, "finished")
        return [`finished:${end.value}`, undefined]
      case "Fail":
        this.end(job, "failed")
        return ["fail:BodyError", undefined]
      case "Die":
        this.end(job, "failed")
        return ["die:BodyDefect", undefined]
      case "Hang":
        // the caller sees its job interrupted, however the harness stops it
        return ["interrupted", end.then]
    }
  }

  /** A job run ends: its finalizer runs, then the engine reports the end; the slot returns. */
  private end(job: ModelJob, outcome: "finished" | "failed" | "cancelled"): void {
    const pool = this.pools[job.pool]!
    if (job.state === "paused") pool.paused--
    else pool.running--
    if (!pool.closed) pool.idle++
    job.state = outcome
    this.log.push(`fin j${job.id}`)
    this.log.push(`Ended p${job.pool} j${job.id} ${outcome}`)
  }

  private setFd(ctx: number, key: number, cleanup: boolean): void {
    const id = this.nextEntry++
    this.ctxs[ctx]!.entries.push({ id, key, cleanup, add: true, del: false })
    this.fds.set(id, { ctx, cleanup, closed: false })
  }

  private clearFd(ctx: number, key: number): boolean {
    const entries = this.ctxs[ctx]!.entries
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!
      if (entry.del || entry.key !== key) continue
      // the caller closes the descriptor itself before clearing it (§2.9)
      this.fds.get(entry.id)!.closed = true
      if (entry.add) entries.splice(i, 1)
      else entry.del = true
      return true
    }
    return false
  }

  private reset(ctx: number): void {
    const c = this.ctxs[ctx]!
    if (c.closed) return
    c.entries = c.entries.filter((entry) => !entry.del)
    for (const entry of c.entries) entry.add = false
  }

  private closeCtx(index: number): void {
    const ctx = this.ctxs[index]!
    if (ctx.closed) return
    for (const job of this.jobs) {
      if (job.ctx === index && (job.state === "paused" || job.state === "running")) this.end(job, "cancelled")
    }
    ctx.closed = true
    for (const entry of ctx.entries.filter((entry) => !entry.del).reverse()) {
      if (!entry.cleanup) continue
      this.log.push(`CleanupRan w${index} k${entry.key} e${entry.id}`)
      this.log.push(`fdclean w${index} e${entry.id}`)
      this.fds.get(entry.id)!.closed = true
    }
    ctx.entries = []
    this.log.push(`WaitCtxClosed w${index}`)
  }

  private closePool(index: number): void {
    const pool = this.pools[index]!
    if (pool.closed) return
    pool.closed = true
    for (const job of this.jobs) {
      if (job.pool === index && (job.state === "paused" || job.state === "running")) this.end(job, "cancelled")
    }
    this.log.push(`PoolClosed p${index}`)
  }
}

/**
 * Puts the lines of a step into a canonical order where the spec leaves the
 * order open: jobs cancelled together (closing a pool or a wait ctx) unwind
 * concurrently, so the leading run of job lines is sorted by job, each job's
 * own lines keeping their order.
 */
export const canonical = (log: ReadonlyArray<string>, concurrent: boolean): ReadonlyArray<string> => {
  if (!concurrent) return log
  const jobOf = (line: string): number | undefined => {
    const match = /^(?:fin j(\d+)|Ended p\d+ j(\d+) )/.exec(line)
    return match === null ? undefined : Number(match[1] ?? match[2])
  }
  let prefix = 0
  while (prefix < log.length && jobOf(log[prefix]!) !== undefined) prefix++
  const head = log.slice(0, prefix).map((line, i) => ({ line, i, job: jobOf(line)! }))
  head.sort((a, b) => a.job - b.job || a.i - b.i)
  return [...head.map((x) => x.line), ...log.slice(prefix)]
}
