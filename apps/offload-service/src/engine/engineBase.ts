/**
 * What every crypto engine shares: request ids, the table of pending
 * requests, counters, health and closing.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as CryptoEngine from "./CryptoEngine.js"
import { perform, type Signers } from "./cryptoOps.js"
import { EngineClosedError, type EngineError, OperationFailedError } from "./EngineError.js"
import * as Operation from "./Operation.js"

export const healthy: CryptoEngine.Health = { _tag: "Healthy" }

export const closedError = () => new EngineClosedError({ message: "the crypto engine was shut down" })

export interface Pending {
  readonly id: number
  readonly request: Operation.Request
  /** what the request's inputs hold in memory (`Operation.requestBytes`) */
  readonly bytes: number
  /** undefined once completed or cancelled */
  onComplete: CryptoEngine.OnComplete | undefined
  /** handed to a worker */
  posted: boolean
}

/**
 * What every engine shares: ids, the table of pending requests, counters, closing.
 */
export abstract class Base implements CryptoEngine.CryptoEngine {
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
  abstract statsUnsafe(): CryptoEngine.Stats

  healthUnsafe(): CryptoEngine.Health {
    return healthy
  }

  submitUnsafe = (request: Operation.Request, onComplete: CryptoEngine.OnComplete): number => {
    const entry: Pending = {
      id: this.nextId++,
      request,
      bytes: Operation.requestBytes(request),
      onComplete,
      posted: false
    }
    this.pending.set(entry.id, entry)
    if (this.closed) queueMicrotask(() => this.complete(entry, Exit.fail(closedError())))
    else this.start(entry)
    return entry.id
  }

  cancelUnsafe = (id: number): boolean => {
    const entry = this.pending.get(id)
    if (entry === undefined) return false
    this.pending.delete(id)
    entry.onComplete = undefined
    this.cancelled++
    this.dropQueued(entry)
    return true
  }

  submit = (request: Operation.Request, onComplete: CryptoEngine.OnComplete) =>
    Effect.sync(() => this.submitUnsafe(request, onComplete))

  cancel = (id: number) => Effect.sync(() => this.cancelUnsafe(id))

  run = <R extends Operation.Request>(request: R): Effect.Effect<Operation.ResultOf<R["op"]>, EngineError> =>
    Effect.callback<Operation.Result, EngineError>((resume) => {
      const id = this.submitUnsafe(request, resume)
      return Effect.sync(() => {
        this.cancelUnsafe(id)
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

export const compute = (request: Operation.Request, signers: Signers): Exit.Exit<Operation.Result, EngineError> => {
  try {
    return Exit.succeed(perform(request, signers))
  } catch (error) {
    return Exit.fail(new OperationFailedError({ op: request.op, message: errorMessage(error) }))
  }
}

export const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)
