/**
 * The crypto engine's worker pools (issue 11): the offload service's engine on effect's own worker support
 * (`pool: "platform"`: an `effect/rpc` group over `RpcClient.layerProtocolWorker`, `NodeWorker` and
 * `NodeWorkerRunner`, a Schema-typed protocol) against its hand-made `worker_threads` pool (`pool: "hand-made"`),
 * measured in the same run: the same mix of operations, the same number of threads, the same queue and dispatch.
 * The service would ship the platform pool only if it were at most 10% slower (ratio ≤ 1.1); it ships the
 * hand-made pool, so this entry's figure is the engine NOT shipped, and the shipped one is its baseline.
 */
import * as CryptoEngine from "@async-job/offload-service/CryptoEngine"
import type * as Operation from "@async-job/offload-service/Operation"
import { Effect, Exit, Scope } from "effect"
import type { Result, Settings } from "./benchmarks.js"
import { nsPerOp, row } from "./measure.js"

/** Worker threads of both engines. */
const threads = 2

/** Requests in flight at once, as the service's jobs would keep them. */
const concurrency = 16

/** The service's fast operations, where a pool's own overhead shows: a digest and the two signatures. */
const mix: ReadonlyArray<Operation.Request> = [
  { op: "sha256", data: "x".repeat(1024) },
  { op: "ecdsa-p256-sign", data: "to sign" },
  { op: "sha256", data: "hello" },
  { op: "rsa2048-sign", data: "to sign" }
]

export const cryptoPool = async (s: Settings): Promise<Result> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const keys = await Effect.runPromise(CryptoEngine.generateKeys)
    const engine = (pool: CryptoEngine.Pool) =>
      Effect.runPromise(Scope.provide(CryptoEngine.make({ threads, keys, pool }), scope))
    const platform = await engine("platform")
    const handMade = await engine("hand-made")
    const batch = (engine: CryptoEngine.CryptoEngine) => (n: number) =>
      Effect.runPromise(
        Effect.forEach(
          Array.from({ length: n }, (_, i) => mix[i % mix.length]!),
          (request) => engine.run(request),
          { concurrency, discard: true }
        )
      )
    const t = await nsPerOp([
      { name: "platform-pool", run: batch(platform) },
      { name: "hand-made-pool", run: batch(handMade) }
    ], { iterations: Math.max(64, Math.round(s.iterations / 20)), samples: s.samples })
    const value = t.get("platform-pool")!.wall / 1000
    const baseline = t.get("hand-made-pool")!.wall / 1000
    return {
      ...row("crypto-pool", "µs", value, { "hand-made-pool": baseline }),
      subject: "effect/rpc worker pool (not shipped)"
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
