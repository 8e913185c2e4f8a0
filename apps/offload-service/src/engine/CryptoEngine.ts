/**
 * The crypto engine: the "hardware" that async jobs offload to, built the way
 * OpenSSL drives an Intel QAT card.
 *
 * **Details**
 *
 * {@link layer} runs a pool of `worker_threads`, each doing real `node:crypto`
 * work. A caller {@link CryptoEngine.submitUnsafe submits} a request together
 * with a completion callback, gets a request id back at once, and is called
 * back on the main thread when a worker answers: the callback is where an async
 * job's wait fd gets signalled. {@link CryptoEngine.cancelUnsafe Cancelling} a
 * request drops it: a queued request never reaches a worker, and the answer to
 * one already in a worker is discarded.
 *
 * {@link layerInline} runs the same crypto synchronously on the calling
 * thread: the baseline the worker pool is measured against.
 *
 * Keys: one ECDSA P-256 key pair and one RSA-2048 key pair per engine,
 * generated when the engine starts (or passed in {@link Options}) and shared by
 * all its threads, respawned ones included. Every signature an engine makes
 * verifies under its {@link CryptoEngine.publicKeys}.
 */
import type * as Config from "effect/Config"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Worker } from "node:worker_threads"
import { ServiceConfig } from "../config.js"
import type { EngineError } from "./EngineError.js"
import * as internal from "./make.js"
import type * as Operation from "./Operation.js"

/**
 * A request id, unique within one engine: a positive integer.
 */
export type RequestId = number

/**
 * Receives the outcome of a submitted request, once, on the main thread.
 * Must not throw.
 */
export type OnComplete = (exit: Exit.Exit<Operation.Result, EngineError>) => void

/**
 * `"threads"`: a pool of worker threads; `"inline"`: synchronously on the calling thread.
 */
export type Mode = "threads" | "inline"

/**
 * What runs the worker threads of a `"threads"` engine: `"platform"`,
 * effect's own worker support (an `effect/rpc` group over
 * `RpcClient.layerProtocolWorker`, `NodeWorker` and `NodeWorkerRunner`) with a
 * Schema-typed protocol, or `"hand-made"`, `node:worker_threads` with plain
 * messages.
 * Both share the engine's queue, dispatch and supervision; see {@link make}
 * for which one is the default and why.
 */
export type Pool = "platform" | "hand-made"

/**
 * Whether the engine can take requests. `Unhealthy`: a worker failed to
 * start `failedStarts` times in a row (at least `restart.unhealthyAfter`);
 * the engine keeps respawning it with back-off, and is healthy again once it
 * starts.
 */
export type Health =
  | { readonly _tag: "Healthy" }
  | { readonly _tag: "Unhealthy"; readonly reason: string; readonly failedStarts: number }

/**
 * How a worker that dies at start is respawned: after `base`, then after
 * twice as long each time, at most `max` apart; after `unhealthyAfter` failed
 * starts in a row the engine reports itself unhealthy.
 */
export interface RestartOptions {
  /** Default 100 millis. */
  readonly base?: Duration.Input | undefined
  /** Default 30 seconds. */
  readonly max?: Duration.Input | undefined
  /** Default 5. */
  readonly unhealthyAfter?: number | undefined
}

/**
 * The engine's public keys, SPKI DER in base64, as the sign operations also answer them.
 */
export interface PublicKeys {
  readonly ecdsaP256: string
  readonly rsa2048: string
}

/**
 * The engine's key pairs as DER bytes: PKCS#8 private keys, SPKI public keys.
 */
export interface KeyMaterial {
  readonly ecdsaP256: { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array }
  readonly rsa2048: { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array }
}

/**
 * Counters since the engine started.
 */
export interface Stats {
  /** Submitted, not yet handed to a worker, not cancelled. */
  readonly queued: number
  /** What the queued requests' inputs hold in memory (`Operation.requestBytes`). */
  readonly queuedBytes: number
  /** Handed to a worker, answer not yet received (cancelled ones included: their worker is still busy). */
  readonly inFlight: number
  readonly succeeded: number
  readonly failed: number
  readonly cancelled: number
  /** Worker threads that died unexpectedly after they had started (each was respawned). */
  readonly workerCrashes: number
  /** Worker threads that died before they were ready (each respawned with back-off). */
  readonly workerStartFailures: number
}

export interface CryptoEngine {
  readonly mode: Mode
  /** The number of worker threads; 0 for the inline engine. */
  readonly threads: number
  readonly publicKeys: PublicKeys
  /**
   * Submits a request and returns its id at once. `onComplete` runs exactly
   * once on the main thread with the outcome, unless the request is
   * cancelled first, and never synchronously inside `submitUnsafe`. After
   * the engine closed it fails with `EngineClosedError`; while the engine is
   * unhealthy and no worker runs, with `EngineUnavailableError`.
   *
   * **Gotchas**: the request is trusted: decode untrusted input with
   * {@link Operation.Request} first. The inline engine does the crypto inside
   * this call and delivers the outcome in a microtask.
   */
  readonly submitUnsafe: (request: Operation.Request, onComplete: OnComplete) => RequestId
  /**
   * Drops a request: its callback will never run. Returns `false` if the
   * request had already completed, been cancelled, or is unknown.
   */
  readonly cancelUnsafe: (id: RequestId) => boolean
  /** {@link CryptoEngine.submitUnsafe} as an Effect. */
  readonly submit: (request: Operation.Request, onComplete: OnComplete) => Effect.Effect<RequestId>
  /** {@link CryptoEngine.cancelUnsafe} as an Effect. */
  readonly cancel: (id: RequestId) => Effect.Effect<boolean>
  /**
   * Submits a request and waits for its outcome. Interrupting the wait
   * cancels the request. The inline engine computes synchronously.
   */
  readonly run: <R extends Operation.Request>(
    request: R
  ) => Effect.Effect<Operation.ResultOf<R["op"]>, EngineError>
  readonly statsUnsafe: () => Stats
  /** Whether the engine can take requests; the inline engine always can. */
  readonly healthUnsafe: () => Health
}

export const CryptoEngine: Context.Service<CryptoEngine, CryptoEngine> = internal.tag

export interface Options {
  /** Worker threads; defaults to `os.availableParallelism()`. */
  readonly threads?: number | undefined
  /**
   * Requests handed to one worker before it answers, default 16. More hides
   * the message round trip; fewer lets cancellation drop more requests
   * before they cost CPU, and fails fewer on a crash.
   */
  readonly maxInFlightPerThread?: number | undefined
  /**
   * Most bytes of requests (`Operation.requestBytes`) waiting in the queue
   * for a worker; a request beyond it fails at once with
   * `EngineOverloadedError`. Default: unbounded (the service bounds its
   * jobs' inputs before they reach the engine, `MAX_QUEUED_BYTES`).
   */
  readonly maxQueuedBytes?: number | undefined
  /** The key pairs to sign with; generated at start when absent. */
  readonly keys?: KeyMaterial | undefined
  /** Called with every worker the engine spawns, respawns included (observability, tests). */
  readonly onWorkerSpawn?: ((worker: Worker) => void) | undefined
  /** What runs the threads; see {@link Pool}. */
  readonly pool?: Pool | undefined
  /**
   * The script each worker thread runs, instead of the pool's own (tests:
   * a worker that exits at start). It must speak the pool's protocol.
   */
  readonly workerScript?: URL | undefined
  /** How a worker that dies at start is respawned; see {@link RestartOptions}. */
  readonly restart?: RestartOptions | undefined
}

/**
 * Starts a worker-thread engine and waits until every worker has started or
 * failed to start. A worker that dies is respawned at once; one that dies
 * before it is ready is respawned with exponential back-off (see
 * {@link RestartOptions}), and the engine reports itself unhealthy (see
 * {@link Health}) after `restart.unhealthyAfter` failed starts in a row.
 * Closing the scope fails every pending request with `EngineClosedError`
 * and terminates every worker, awaiting their exit.
 *
 * **Details**
 *
 * The default {@link Pool} is `"hand-made"`: the bench entry `crypto-pool`
 * measures the platform's worker protocol slower than the hand-made
 * `worker_threads` protocol by far more than the 10% allowed (see the
 * README), so the platform pool is kept behind `pool: "platform"`.
 */
export const make: (options?: Options) => Effect.Effect<CryptoEngine, never, Scope.Scope> = internal.make

/**
 * Starts an inline engine: the crypto runs on the calling thread.
 */
export const makeInline: (
  options?: { readonly keys?: KeyMaterial | undefined }
) => Effect.Effect<CryptoEngine, never, Scope.Scope> = internal.makeInline

/**
 * Generates one ECDSA P-256 and one RSA-2048 key pair.
 */
export const generateKeys: Effect.Effect<KeyMaterial> = internal.generateKeys

export const layer = (options?: Options): Layer.Layer<CryptoEngine> => Layer.effect(CryptoEngine, make(options))

export const layerInline: Layer.Layer<CryptoEngine> = Layer.effect(CryptoEngine, makeInline())

/**
 * Reads `ENGINE` (`threads`, the default, or `inline`) and `ENGINE_THREADS`
 * (default `os.availableParallelism()`) from the Effect `Config` provider.
 */
export const layerConfig: Layer.Layer<CryptoEngine, Config.ConfigError> = Layer.effect(
  CryptoEngine,
  internal.makeFromConfig
)

/**
 * The engine as the service's configuration says: `ENGINE`, `ENGINE_THREADS`,
 * and its queue bounded by `MAX_QUEUED_BYTES`.
 */
export const layerService: Layer.Layer<CryptoEngine, never, ServiceConfig> = Layer.unwrap(
  Effect.map(ServiceConfig, (config) =>
    config.engine === "inline"
      ? layerInline
      : layer({ threads: config.engineThreads, maxQueuedBytes: config.maxQueuedBytes }))
)

/**
 * Runs a request on the engine in context.
 */
export const run = <R extends Operation.Request>(
  request: R
): Effect.Effect<Operation.ResultOf<R["op"]>, EngineError, CryptoEngine> => internal.run(request)
