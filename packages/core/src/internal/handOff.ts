/**
 * The scheduler job fibers run on: it hands control between a job and whoever
 * drives it without a trip through the event loop.
 *
 * A job cycle is a conversation between two fibers: the caller of
 * `start`/`resume` waits while the job runs, and the job waits (paused) while
 * the caller runs. With effect's default scheduler every turn of that
 * conversation is a scheduled task, run later from the scheduler's queue; on
 * this engine's benchmark those hops were about a third of a cycle.
 *
 * This scheduler runs exactly one task at once when the engine asks for it:
 * the first run of a new job fiber (`runNow` after `capture`), or the wake-up
 * of a paused job by `resume` (`wake`). The job then runs on the caller's stack
 * until it pauses or finishes, and its PAUSE or FINISH reaches the caller while
 * the caller is still registering its wait, so the caller goes on at once too.
 * Every other task (the job's own `yieldNow`, fibers it forks, wake-ups by
 * anything else) goes to the scheduler the job inherited from its caller, so a
 * job body sees ordinary scheduling. Nested jobs nest stacks: beyond
 * {@link maxDepth} hand-offs on one stack, tasks go to the inherited scheduler.
 *
 * Each job has its own hand-off scheduler, which names the job (`owner`): it
 * is how code finds the job it runs in (`AsyncJob.current`, `pause`). A
 * fiber's scheduler is a FiberRef that the fibers it forks inherit, and the
 * job's fiber gets it when it is made (`Runtime.runFork`'s `scheduler`), so
 * naming the job costs no FiberRefs copy of its own. Code run under another
 * scheduler (`Effect.withScheduler`) runs outside the job, as OpenSSL code run
 * on another thread does: `ASYNC_get_current_job()` is NULL there.
 *
 * Only effect's public `Scheduler` interface is used.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import type * as Scheduler from "effect/Scheduler"

/** How many hand-offs may nest on one JavaScript stack before tasks are scheduled instead. */
const maxDepth = 64

let depth = 0

/** @internal */
export class HandOff<Owner = unknown> implements Scheduler.Scheduler {
  /** the next task scheduled here runs at once (a `wake` is in progress) */
  private open = false
  /** the next task scheduled here is kept, not run (a `capture` is in progress) */
  private capturing = false
  private captured: Scheduler.Task | undefined = undefined

  constructor(readonly delegate: Scheduler.Scheduler, readonly owner: Owner) {}

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return this.delegate.shouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (this.capturing) {
      this.capturing = false
      this.captured = task
    } else if (this.open && depth < maxDepth) {
      this.open = false
      run(task)
    } else {
      this.delegate.scheduleTask(task, priority, fiber)
    }
  }

  /**
   * Calls `start` (which creates a fiber on this scheduler without running it)
   * and returns the fiber's first task instead of scheduling it.
   */
  capture<A>(start: () => A): readonly [A, Scheduler.Task | undefined] {
    this.capturing = true
    try {
      const result = start()
      const task = this.captured
      return [result, task]
    } finally {
      this.capturing = false
      this.captured = undefined
    }
  }

  /** Runs a captured task now, or schedules it if the stack is already deep. */
  runNow(task: Scheduler.Task, fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (depth < maxDepth) run(task)
    else this.delegate.scheduleTask(task, 0, fiber)
  }

  /** Calls `complete` (which wakes a fiber on this scheduler) and runs the wake-up at once. */
  wake(complete: () => void): void {
    this.open = true
    try {
      complete()
    } finally {
      this.open = false
    }
  }
}

const run = (task: Scheduler.Task): void => {
  depth++
  try {
    task()
  } finally {
    depth--
  }
}

/**
 * A hand-off scheduler for `owner` over the scheduler its caller runs on.
 *
 * @internal
 */
export const make = <Owner>(callerScheduler: Scheduler.Scheduler, owner: Owner): HandOff<Owner> =>
  // a job started from inside a job hands off over the same underlying scheduler
  new HandOff(callerScheduler instanceof HandOff ? callerScheduler.delegate : callerScheduler, owner)
