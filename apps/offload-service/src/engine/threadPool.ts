/**
 * The worker-thread engine, whatever runs its threads: a FIFO of requests,
 * a slot per thread that takes at most `depth` requests at once, and a
 * supervisor per slot that starts its worker, respawns it when it dies, and
 * backs off (an Effect `Schedule`) while it dies at start.
 *
 * How a worker is started, handed a request and answers is a
 * {@link WorkerKind}: effect's worker RPC protocol (`platformWorker.ts`) or
 * the hand-made `worker_threads` protocol (`handMadeWorker.ts`).
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as CryptoEngine from "./CryptoEngine.js"
import type { Signers } from "./cryptoOps.js"
import { Base, healthy, type Pending } from "./engineBase.js"
import {
  type EngineError,
  EngineOverloadedError,
  EngineUnavailableError,
  OperationFailedError,
  WorkerCrashedError
} from "./EngineError.js"
import type * as Operation from "./Operation.js"

export interface WorkerHandle {
  readonly threadId: number
  /**
   * Hands a request to the worker; its answer comes through the `onAnswer`
   * given to `start` (a failure is node:crypto's message), unless the worker
   * dies first.
   */
  readonly post: (entry: Pending) => void
  /** Succeeds with the reason once the worker has died. */
  readonly died: Effect.Effect<string>
  /** Test hook: makes the worker die as soon as it reads this message. */
  readonly crash: () => void
  /** Test hook: terminates the thread from outside, now, whatever it is doing. */
  readonly kill: () => void
}

/**
 * Why a request failed in a worker: node:crypto refused it, or it was lost
 * (its worker died, or the protocol failed).
 */
export type Failure =
  | { readonly _tag: "Refused"; readonly message: string }
  | { readonly _tag: "Lost"; readonly message: string }

export interface WorkerKind {
  readonly name: CryptoEngine.Pool
  /**
   * Spawns a worker and succeeds once it is ready to take requests; fails
   * with the reason if it dies first. Closing the scope stops the worker.
   */
  readonly start: (
    index: number,
    onAnswer: (id: number, exit: Exit.Exit<Operation.Result, Failure>) => void
  ) => Effect.Effect<WorkerHandle, string, Scope.Scope>
}

export interface RestartPolicy {
  readonly base: Duration.Duration
  readonly max: Duration.Duration
  readonly unhealthyAfter: number
}

export const defaultRestart: RestartPolicy = {
  base: Duration.millis(100),
  max: Duration.seconds(30),
  unhealthyAfter: 5
}

interface Slot {
  readonly index: number
  /** the running worker; undefined while it starts or after it died */
  handle: WorkerHandle | undefined
  /** requests posted to this worker and not answered yet, cancelled ones included */
  readonly inFlight: Map<number, Pending>
  /** failed starts since the last successful one */
  failedStarts: number
  lastFailure: string | undefined
  /** completed once the first start succeeded or failed */
  readonly settled: Deferred.Deferred<void>
}

export class ThreadPool extends Base {
  readonly mode = "threads" as const
  readonly slots: Array<Slot> = []
  /** FIFO of requests not yet posted; cancelled entries are skipped when reached */
  private queue: Array<Pending> = []
  private queueHead = 0
  private queuedCount = 0
  /** what the queued requests' inputs hold */
  private queuedBytes = 0
  private workerCrashes = 0
  private workerStartFailures = 0

  constructor(
    signers: Signers,
    readonly threads: number,
    private readonly depth: number,
    readonly kind: WorkerKind,
    private readonly restart: RestartPolicy,
    private readonly maxQueuedBytes: number
  ) {
    super(signers)
  }

  /** Delays between failed starts: doubling from `base`, at most `max`. */
  private get schedule() {
    return Schedule.min([Schedule.exponential(this.restart.base), Schedule.spaced(this.restart.max)])
  }

  /** One worker's life: start it, serve until it dies; a failed start fails with its reason. */
  private generation(slot: Slot): Effect.Effect<void, string> {
    return Effect.acquireUseRelease(
      Scope.make(),
      (scope) =>
        Effect.gen({ self: this }, function*() {
          const handle = yield* this.kind.start(slot.index, (id, exit) => this.onAnswer(slot, id, exit)).pipe(
            Scope.provide(scope),
            Effect.tapError((reason) => Effect.sync(() => this.onStartFailed(slot, reason)))
          )
          this.onStarted(slot, handle)
          const reason = yield* handle.died
          this.onDied(slot, handle, reason)
        }),
      (scope, exit) => Scope.close(scope, exit)
    )
  }

  /** Keeps a slot's worker running: respawns at once after a crash, with back-off after a failed start. */
  private supervise(slot: Slot): Effect.Effect<never> {
    // the schedule never ends, so retrying never fails
    return this.generation(slot).pipe(Effect.retry(this.schedule), Effect.orDie, Effect.forever)
  }

  private onStarted(slot: Slot, handle: WorkerHandle): void {
    slot.handle = handle
    slot.failedStarts = 0
    slot.lastFailure = undefined
    Deferred.doneUnsafe(slot.settled, Exit.void)
    this.dispatch()
  }

  private onStartFailed(slot: Slot, reason: string): void {
    if (this.closed) return
    this.workerStartFailures++
    slot.failedStarts++
    slot.lastFailure = reason
    Deferred.doneUnsafe(slot.settled, Exit.void)
    // nothing can take the queue if no worker runs and the engine is unhealthy
    this.dispatch()
  }

  private onDied(slot: Slot, handle: WorkerHandle, reason: string): void {
    slot.handle = undefined
    if (this.closed) return
    this.workerCrashes++
    const lost = Array.from(slot.inFlight.values())
    slot.inFlight.clear()
    const message = `crypto engine worker (thread ${handle.threadId}) crashed: ${reason}`
    for (const entry of lost) {
      this.complete(entry, Exit.fail(new WorkerCrashedError({ threadId: handle.threadId, message })))
    }
    this.dispatch()
  }

  private onAnswer(slot: Slot, id: number, exit: Exit.Exit<Operation.Result, Failure>): void {
    const entry = slot.inFlight.get(id)
    if (entry === undefined) return
    slot.inFlight.delete(id)
    // refill the worker before running the callback
    this.dispatch()
    this.complete(
      entry,
      Exit.mapError(exit, (failure): EngineError =>
        failure._tag === "Refused"
          ? new OperationFailedError({ op: entry.request.op, message: failure.message })
          : new WorkerCrashedError({ threadId: slot.handle?.threadId ?? -1, message: failure.message }))
    )
  }

  /** Starts every slot's supervisor in `fibers`; succeeds once every first start succeeded or failed. */
  launch(fibers: FiberSet.FiberSet<never>): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
      for (let index = 0; index < this.threads; index++) {
        const slot: Slot = {
          index,
          handle: undefined,
          inFlight: new Map(),
          failedStarts: 0,
          lastFailure: undefined,
          settled: yield* Deferred.make<void>()
        }
        this.slots.push(slot)
        yield* FiberSet.run(fibers, this.supervise(slot))
      }
      yield* Effect.forEach(this.slots, (slot) => Deferred.await(slot.settled), { discard: true })
    })
  }

  override healthUnsafe(): CryptoEngine.Health {
    let worst: Slot | undefined
    for (const slot of this.slots) {
      if (slot.failedStarts >= this.restart.unhealthyAfter && slot.failedStarts > (worst?.failedStarts ?? 0)) {
        worst = slot
      }
    }
    if (worst === undefined) return healthy
    return {
      _tag: "Unhealthy",
      reason: `a crypto engine worker failed to start ${worst.failedStarts} times in a row: ${worst.lastFailure}`,
      failedStarts: worst.failedStarts
    }
  }

  protected start(entry: Pending): void {
    // a request the queue has no room for is refused, never sooner than the submit returns
    if (this.queuedCount > 0 && this.queuedBytes + entry.bytes > this.maxQueuedBytes) {
      const message =
        `the crypto engine's queue holds ${this.queuedBytes} bytes of requests (at most ${this.maxQueuedBytes})`
      queueMicrotask(() => this.complete(entry, Exit.fail(new EngineOverloadedError({ message }))))
      return
    }
    this.queue.push(entry)
    this.queuedCount++
    this.queuedBytes += entry.bytes
    this.dispatch()
  }

  protected dropQueued(entry: Pending): void {
    // a queued entry is skipped when the queue reaches it; a posted one keeps its worker busy until it answers
    if (!entry.posted) this.unqueue(entry)
  }

  private unqueue(entry: Pending): void {
    this.queuedCount--
    this.queuedBytes -= entry.bytes
  }

  private dispatch(): void {
    while (this.queueHead < this.queue.length) {
      const entry = this.queue[this.queueHead]!
      if (entry.onComplete === undefined) {
        this.queueHead++
        continue
      }
      const slot = this.leastBusy()
      if (slot === undefined) break
      this.queueHead++
      this.unqueue(entry)
      entry.posted = true
      slot.inFlight.set(entry.id, entry)
      slot.handle!.post(entry)
    }
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    if (this.queueHead < this.queue.length) this.failQueueIfUnavailable()
  }

  /** With no worker running and the engine unhealthy, queued requests fail rather than wait. */
  private failQueueIfUnavailable(): void {
    if (this.slots.some((slot) => slot.handle !== undefined)) return
    const health = this.healthUnsafe()
    if (health._tag === "Healthy") return
    const entries = this.queue.slice(this.queueHead)
    this.queue = []
    this.queueHead = 0
    for (const entry of entries) {
      if (entry.onComplete === undefined) continue
      this.unqueue(entry)
      this.complete(entry, Exit.fail(new EngineUnavailableError({ message: health.reason })))
    }
  }

  private leastBusy(): Slot | undefined {
    let best: Slot | undefined
    for (const slot of this.slots) {
      if (slot.handle === undefined || slot.inFlight.size >= this.depth) continue
      if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot
    }
    return best
  }

  /** Test hook: makes one worker die as soon as it reads this message; returns its thread id. */
  crashUnsafe(index: number): number {
    const handle = this.slots[index]?.handle
    if (handle === undefined) throw new Error(`no worker runs in slot ${index}`)
    handle.crash()
    return handle.threadId
  }

  /** Test hook: terminates one worker's thread now, as if it had been killed; returns its thread id. */
  killUnsafe(index: number): number {
    const handle = this.slots[index]?.handle
    if (handle === undefined) throw new Error(`no worker runs in slot ${index}`)
    handle.kill()
    return handle.threadId
  }

  statsUnsafe(): CryptoEngine.Stats {
    let inFlight = 0
    for (const slot of this.slots) inFlight += slot.inFlight.size
    return {
      queued: this.queuedCount,
      queuedBytes: this.queuedBytes,
      inFlight,
      succeeded: this.succeeded,
      failed: this.failed,
      cancelled: this.cancelled,
      workerCrashes: this.workerCrashes,
      workerStartFailures: this.workerStartFailures
    }
  }

  /** Fails everything pending; the supervisors (and their workers) stop when their FiberSet closes. */
  close(): void {
    this.failAllPending()
    this.queue = []
    this.queueHead = 0
    this.queuedCount = 0
    this.queuedBytes = 0
    for (const slot of this.slots) slot.inFlight.clear()
  }
}

export interface MakeOptions {
  readonly signers: Signers
  readonly threads: number
  readonly depth: number
  readonly kind: WorkerKind
  readonly restart: RestartPolicy
  readonly maxQueuedBytes: number
}

export const make = (options: MakeOptions): Effect.Effect<ThreadPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pool = new ThreadPool(
      options.signers,
      options.threads,
      options.depth,
      options.kind,
      options.restart,
      options.maxQueuedBytes
    )
    // released in reverse: first fail what is pending, then stop the supervisors and their workers
    const fibers = yield* FiberSet.make<never>()
    yield* Effect.addFinalizer(() => Effect.sync(() => pool.close()))
    yield* pool.launch(fibers)
    return pool
  })
