import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Os from "node:os"
import { Worker } from "node:worker_threads"
import type * as CryptoEngine from "../CryptoEngine.js"
import { EngineClosedError, type EngineError, OperationFailedError, WorkerCrashedError } from "../EngineError.js"
import type * as Operation from "../Operation.js"
import { importKeys, perform, type Signers } from "./cryptoOps.js"

/** @internal */
export const tag = Context.GenericTag<CryptoEngine.CryptoEngine>("@async-job/offload-service/CryptoEngine")

const workerUrl = new URL("./cryptoWorker.js", import.meta.url)

/** @internal */
export const generateKeys: Effect.Effect<CryptoEngine.KeyMaterial> = Effect.all({
  ecdsaP256: generatePair("ec", { namedCurve: "P-256" }),
  rsa2048: generatePair("rsa", { modulusLength: 2048 })
}, { concurrency: 2 })

function generatePair(type: "ec" | "rsa", options: { namedCurve: string } | { modulusLength: number }) {
  return Effect.async<{ privateKey: Uint8Array; publicKey: Uint8Array }>((resume) => {
    const done = (error: Error | null, publicKey: Buffer, privateKey: Buffer) => {
      // a failure here is a broken crypto library, not a way callers react
      if (error !== null) resume(Effect.die(error))
      else resume(Effect.succeed({ privateKey, publicKey }))
    }
    const encoding = {
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" }
    } as const
    if (type === "ec") Crypto.generateKeyPair("ec", { ...(options as { namedCurve: string }), ...encoding }, done)
    else Crypto.generateKeyPair("rsa", { ...(options as { modulusLength: number }), ...encoding }, done)
  })
}

const closedError = () => new EngineClosedError({ message: "the crypto engine was shut down" })

interface Pending {
  readonly id: number
  readonly request: Operation.Request
  /** undefined once completed or cancelled */
  onComplete: CryptoEngine.OnComplete | undefined
  /** handed to a worker */
  posted: boolean
}

/**
 * What both engines share: ids, the table of pending requests, counters, closing.
 */
abstract class Base implements CryptoEngine.CryptoEngine {
  abstract readonly mode: CryptoEngine.Mode
  abstract readonly threads: number
  readonly publicKeys: CryptoEngine.PublicKeys
  protected closed = false
  protected readonly pending = new Map<number, Pending>()
  private nextId = 1
  protected succeeded = 0
  protected failed = 0
  protected cancelled = 0

  constructor(readonly signers: Signers) {
    this.publicKeys = { ecdsaP256: signers.ecdsaP256Public, rsa2048: signers.rsa2048Public }
  }

  protected abstract start(entry: Pending): void
  protected abstract dropQueued(entry: Pending): void
  abstract unsafeStats(): CryptoEngine.Stats

  unsafeSubmit = (request: Operation.Request, onComplete: CryptoEngine.OnComplete): number => {
    const entry: Pending = { id: this.nextId++, request, onComplete, posted: false }
    this.pending.set(entry.id, entry)
    if (this.closed) queueMicrotask(() => this.complete(entry, Exit.fail(closedError())))
    else this.start(entry)
    return entry.id
  }

  unsafeCancel = (id: number): boolean => {
    const entry = this.pending.get(id)
    if (entry === undefined) return false
    this.pending.delete(id)
    entry.onComplete = undefined
    this.cancelled++
    this.dropQueued(entry)
    return true
  }

  submit = (request: Operation.Request, onComplete: CryptoEngine.OnComplete) =>
    Effect.sync(() => this.unsafeSubmit(request, onComplete))

  cancel = (id: number) => Effect.sync(() => this.unsafeCancel(id))

  run = <R extends Operation.Request>(request: R): Effect.Effect<Operation.ResultOf<R["op"]>, EngineError> =>
    Effect.async<Operation.Result, EngineError>((resume) => {
      const id = this.unsafeSubmit(request, resume)
      return Effect.sync(() => {
        this.unsafeCancel(id)
      })
    }) as Effect.Effect<Operation.ResultOf<R["op"]>, EngineError>

  /** Delivers an outcome unless the request was cancelled or already completed. */
  protected complete(entry: Pending, exit: Exit.Exit<Operation.Result, EngineError>): void {
    const onComplete = entry.onComplete
    if (onComplete === undefined) return
    entry.onComplete = undefined
    this.pending.delete(entry.id)
    if (Exit.isSuccess(exit)) this.succeeded++
    else this.failed++
    onComplete(exit)
  }

  /** Fails everything pending; later submissions fail at once. */
  protected failAllPending(): void {
    this.closed = true
    const entries = Array.from(this.pending.values())
    for (const entry of entries) this.complete(entry, Exit.fail(closedError()))
  }
}

const compute = (request: Operation.Request, signers: Signers): Exit.Exit<Operation.Result, EngineError> => {
  try {
    return Exit.succeed(perform(request, signers))
  } catch (error) {
    return Exit.fail(new OperationFailedError({ op: request.op, message: errorMessage(error) }))
  }
}

const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

class Inline extends Base {
  readonly mode = "inline" as const
  readonly threads = 0

  protected start(entry: Pending): void {
    // the crypto runs right here, on the caller's thread; only the delivery waits for a microtask
    const exit = compute(entry.request, this.signers)
    queueMicrotask(() => this.complete(entry, exit))
  }

  protected dropQueued(): void {}

  override run = <R extends Operation.Request>(request: R): Effect.Effect<Operation.ResultOf<R["op"]>, EngineError> =>
    Effect.suspend(() => this.closed ? Exit.fail(closedError()) : compute(request, this.signers)) as Effect.Effect<
      Operation.ResultOf<R["op"]>,
      EngineError
    >

  unsafeStats(): CryptoEngine.Stats {
    return {
      queued: 0,
      inFlight: this.pending.size,
      succeeded: this.succeeded,
      failed: this.failed,
      cancelled: this.cancelled,
      workerCrashes: 0
    }
  }

  close(): void {
    this.failAllPending()
  }
}

interface Slot {
  readonly worker: Worker
  readonly threadId: number
  /** requests posted to this worker and not answered yet, cancelled ones included */
  readonly inFlight: Map<number, Pending>
  ready: boolean
  lastError: string | undefined
}

type WorkerReply =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly result: Operation.Result }
  | { readonly id: number; readonly ok: false; readonly message: string }

class Threads extends Base {
  readonly mode = "threads" as const
  readonly slots: Array<Slot> = []
  /** FIFO of requests not yet posted; cancelled entries are skipped when reached */
  private queue: Array<Pending> = []
  private queueHead = 0
  private queuedCount = 0
  private workerCrashes = 0
  private onStartupChange: (() => void) | undefined

  constructor(
    signers: Signers,
    private readonly keys: CryptoEngine.KeyMaterial,
    readonly threads: number,
    private readonly depth: number,
    private readonly onWorkerSpawn: ((worker: Worker) => void) | undefined
  ) {
    super(signers)
  }

  spawnAll(): void {
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn(i))
  }

  /** Succeeds when every first-generation worker is ready; dies if one exits first. */
  awaitReady = Effect.async<void>((resume) => {
    const check = () => {
      const dead = this.slots.find((slot) => slot.lastError !== undefined && !slot.ready)
      if (dead !== undefined) {
        this.onStartupChange = undefined
        resume(Effect.dieMessage(`crypto engine worker failed to start: ${dead.lastError}`))
      } else if (this.slots.every((slot) => slot.ready)) {
        this.onStartupChange = undefined
        resume(Effect.void)
      }
    }
    this.onStartupChange = check
    check()
    return Effect.sync(() => {
      this.onStartupChange = undefined
    })
  })

  private spawn(index: number): Slot {
    const worker = new Worker(workerUrl, { workerData: this.keys, name: `crypto-engine-${index}` })
    const slot: Slot = { worker, threadId: worker.threadId, inFlight: new Map(), ready: false, lastError: undefined }
    worker.on("message", (reply: WorkerReply) => this.onReply(slot, reply))
    worker.on("error", (error) => {
      slot.lastError = errorMessage(error)
    })
    worker.on("exit", (code) => this.onExit(slot, index, code))
    this.onWorkerSpawn?.(worker)
    return slot
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if ("ready" in reply) {
      slot.ready = true
      this.onStartupChange?.()
      return
    }
    const entry = slot.inFlight.get(reply.id)
    if (entry === undefined) return
    slot.inFlight.delete(reply.id)
    // refill the worker before running the callback
    this.dispatch()
    this.complete(
      entry,
      reply.ok ?
        Exit.succeed(reply.result) :
        Exit.fail(new OperationFailedError({ op: entry.request.op, message: reply.message }))
    )
  }

  private onExit(slot: Slot, index: number, code: number): void {
    if (this.closed) return
    slot.lastError ??= `exited with code ${code}`
    if (this.onStartupChange !== undefined) {
      this.onStartupChange()
      return
    }
    this.workerCrashes++
    const lost = Array.from(slot.inFlight.values())
    slot.inFlight.clear()
    // replace first, so the callbacks below see a working engine
    const position = this.slots.indexOf(slot)
    if (position !== -1) this.slots[position] = this.spawn(index)
    const message = `crypto engine worker (thread ${slot.threadId}) crashed: ${slot.lastError}`
    for (const entry of lost) {
      this.complete(entry, Exit.fail(new WorkerCrashedError({ threadId: slot.threadId, message })))
    }
    this.dispatch()
  }

  protected start(entry: Pending): void {
    this.queue.push(entry)
    this.queuedCount++
    this.dispatch()
  }

  protected dropQueued(entry: Pending): void {
    // a queued entry is skipped when the queue reaches it; a posted one keeps its worker busy until it answers
    if (!entry.posted) this.queuedCount--
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
      this.queuedCount--
      entry.posted = true
      slot.inFlight.set(entry.id, entry)
      slot.worker.postMessage({ id: entry.id, request: entry.request })
    }
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
  }

  private leastBusy(): Slot | undefined {
    let best: Slot | undefined
    for (const slot of this.slots) {
      if (slot.inFlight.size >= this.depth) continue
      if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot
    }
    return best
  }

  /** Test hook: makes one worker throw an uncaught error as soon as it reads this message. */
  unsafeCrash(index: number): number {
    const slot = this.slots[index]!
    slot.worker.postMessage({ id: -1, crash: true })
    return slot.threadId
  }

  unsafeStats(): CryptoEngine.Stats {
    let inFlight = 0
    for (const slot of this.slots) inFlight += slot.inFlight.size
    return {
      queued: this.queuedCount,
      inFlight,
      succeeded: this.succeeded,
      failed: this.failed,
      cancelled: this.cancelled,
      workerCrashes: this.workerCrashes
    }
  }

  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.failAllPending()
      this.queue = []
      this.queueHead = 0
      this.queuedCount = 0
      const slots = this.slots.splice(0)
      return Effect.promise(() => Promise.all(slots.map((slot) => slot.worker.terminate())))
    })
  }
}

/** @internal */
export const make = (
  options: CryptoEngine.Options = {}
): Effect.Effect<CryptoEngine.CryptoEngine, never, Scope.Scope> =>
  Effect.gen(function*() {
    const threads = options.threads ?? Os.availableParallelism()
    const depth = options.maxInFlightPerThread ?? 2
    if (!Number.isInteger(threads) || threads < 1) {
      return yield* Effect.dieMessage(`threads must be ≥ 1, got ${threads}`)
    }
    if (!Number.isInteger(depth) || depth < 1) {
      return yield* Effect.dieMessage(`maxInFlightPerThread must be ≥ 1, got ${depth}`)
    }
    const keys = options.keys ?? (yield* generateKeys)
    const engine = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const engine = new Threads(importKeys(keys), keys, threads, depth, options.onWorkerSpawn)
        engine.spawnAll()
        return engine
      }),
      (engine) => engine.close()
    )
    yield* engine.awaitReady
    return engine
  })

/** @internal */
export const makeInline = (
  options: { readonly keys?: CryptoEngine.KeyMaterial | undefined } = {}
): Effect.Effect<CryptoEngine.CryptoEngine, never, Scope.Scope> =>
  Effect.gen(function*() {
    const keys = options.keys ?? (yield* generateKeys)
    return yield* Effect.acquireRelease(
      Effect.sync(() => new Inline(importKeys(keys))),
      (engine) => Effect.sync(() => engine.close())
    )
  })

/** @internal */
export const makeFromConfig = Effect.gen(function*() {
  const mode = yield* Config.literal("threads", "inline")("ENGINE").pipe(Config.withDefault("threads" as const))
  if (mode === "inline") return yield* makeInline()
  const threads = yield* Config.integer("ENGINE_THREADS").pipe(
    Config.validate({ message: "ENGINE_THREADS must be a positive integer", validation: (n) => n >= 1 }),
    Config.withDefault(Os.availableParallelism())
  )
  return yield* make({ threads })
})

/** @internal */
export const run = <R extends Operation.Request>(
  request: R
): Effect.Effect<Operation.ResultOf<R["op"]>, EngineError, CryptoEngine.CryptoEngine> =>
  Effect.flatMap(tag, (engine) => engine.run(request))

/** @internal */
export const unsafeCrashWorker = (engine: CryptoEngine.CryptoEngine, index: number): number => {
  if (!(engine instanceof Threads)) throw new Error("only a worker-thread engine has workers to crash")
  return engine.unsafeCrash(index)
}
