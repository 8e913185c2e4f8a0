import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import type { Worker } from "node:worker_threads"
import * as CryptoEngine from "../src/engine/CryptoEngine.js"
import type * as EngineError from "../src/engine/EngineError.js"
import { crashWorkerUnsafe } from "../src/engine/make.js"
import type * as Operation from "../src/engine/Operation.js"
import { trackWorkers } from "./utils/workers.js"

type Outcome = Exit.Exit<Operation.Result, EngineError.EngineError>

// generated once: RSA key generation is the slow part of starting an engine
const keys = await Effect.runPromise(CryptoEngine.generateKeys)

// the FIPS 180-2 test vector: SHA-256("abc")
const abcSha256: Operation.Result = { op: "sha256", digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" }

const text = "héllo, wörld ✓"
const textSha256 = Crypto.createHash("sha256").update(Buffer.from(text, "utf8")).digest("base64")

const verify = (data: string, publicKey: string, signature: string) =>
  Crypto.verify(
    "sha256",
    Buffer.from(data, "utf8"),
    Crypto.createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" }),
    Buffer.from(signature, "base64")
  )

const nodeScrypt = (password: string, salt: string, N: number) =>
  Crypto.scryptSync(password, salt, 64, { N, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }).toString("base64")

/** Submits through the callback API and completes a Deferred with the outcome; counts callback calls. */
const submitTo = (engine: CryptoEngine.CryptoEngine, request: Operation.Request) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<Outcome>()
    const calls = { count: 0, duringSubmit: false }
    let submitting = true
    const id = engine.submitUnsafe(request, (exit) => {
      calls.count++
      if (submitting) calls.duringSubmit = true
      Deferred.doneUnsafe(done, Exit.succeed(exit))
    })
    submitting = false
    return { id, done, calls }
  })

const assertStats = (engine: CryptoEngine.CryptoEngine, expected: Partial<CryptoEngine.Stats>) =>
  deepStrictEqual(engine.statsUnsafe(), {
    queued: 0,
    queuedBytes: 0,
    inFlight: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    workerCrashes: 0,
    workerStartFailures: 0,
    ...expected
  })

const failureTag = (exit: Outcome): string | undefined =>
  Exit.isFailure(exit)
    ? Option.match(Cause.findErrorOption(exit.cause), { onNone: () => "defect", onSome: (error) => error._tag })
    : undefined

/** The contract both engines fulfil. */
const testOperations = (name: string, makeEngine: Effect.Effect<CryptoEngine.CryptoEngine, never, Scope.Scope>) =>
  describe(`${name}: operations`, () => {
    it.effect("sha256 answers the base64 digest of the UTF-8 bytes", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        deepStrictEqual(yield* engine.run({ op: "sha256", data: "abc" }), {
          op: "sha256",
          digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        })
        deepStrictEqual(yield* engine.run({ op: "sha256", data: text }), { op: "sha256", digest: textSha256 })
        deepStrictEqual(yield* engine.run({ op: "sha256", data: "" }), {
          op: "sha256",
          digest: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        })
      }))

    it.effect("ecdsa-p256-sign answers a signature that verifies under the engine's public key", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        const result = yield* engine.run({ op: "ecdsa-p256-sign", data: text })
        strictEqual(result.op, "ecdsa-p256-sign")
        strictEqual(result.publicKey, engine.publicKeys.ecdsaP256)
        strictEqual(result.publicKey, Buffer.from(keys.ecdsaP256.publicKey).toString("base64"))
        assertTrue(verify(text, result.publicKey, result.signature))
        assertFalse(verify(text + "!", result.publicKey, result.signature))
      }))

    it.effect("rsa2048-sign answers a signature that verifies under the engine's public key", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        const result = yield* engine.run({ op: "rsa2048-sign", data: text })
        strictEqual(result.op, "rsa2048-sign")
        strictEqual(result.publicKey, engine.publicKeys.rsa2048)
        assertTrue(verify(text, result.publicKey, result.signature))
        assertFalse(verify(text + "!", result.publicKey, result.signature))
        // PKCS#1 v1.5 is deterministic: the same key signs the same data the same way everywhere
        const expected = Crypto.sign(
          "sha256",
          Buffer.from(text, "utf8"),
          Crypto.createPrivateKey({ key: Buffer.from(keys.rsa2048.privateKey), format: "der", type: "pkcs8" })
        ).toString("base64")
        strictEqual(result.signature, expected)
      }))

    it.effect("scrypt matches node's own scrypt, N = 2^16 included", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        for (const N of [2, 1024, 65536]) {
          deepStrictEqual(yield* engine.run({ op: "scrypt", password: "pässword", salt: "NaCl", N }), {
            op: "scrypt",
            derivedKey: nodeScrypt("pässword", "NaCl", N)
          })
        }
      }))

    it.effect("an operation node:crypto refuses fails with OperationFailedError", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        // N = 3 is no power of two: the Schema refuses it, so only a caller that skipped decoding gets here
        const exit = yield* Effect.exit(engine.run({ op: "scrypt", password: "p", salt: "s", N: 3 }))
        strictEqual(failureTag(exit), "OperationFailedError")
        // the engine still works afterwards
        deepStrictEqual(yield* engine.run({ op: "sha256", data: "abc" }), abcSha256)
      }))

    it.effect("submit calls back once, never inside submit, with the result", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        const { calls, done } = yield* submitTo(engine, { op: "sha256", data: "abc" })
        const exit = yield* Deferred.await(done)
        deepStrictEqual(exit, Exit.succeed(abcSha256))
        strictEqual(calls.count, 1)
        assertFalse(calls.duringSubmit)
      }))

    it.effect("a cancelled request never calls back", () =>
      Effect.gen(function*() {
        const engine = yield* makeEngine
        const cancelled = yield* submitTo(engine, { op: "scrypt", password: "p", salt: "s", N: 65536 })
        assertTrue(yield* engine.cancel(cancelled.id))
        assertFalse(yield* engine.cancel(cancelled.id))
        // requests complete in order on one thread, so once this one is back the first one's answer came and went
        const later = yield* submitTo(engine, { op: "sha256", data: "abc" })
        yield* Deferred.await(later.done)
        strictEqual(cancelled.calls.count, 0)
        assertFalse(yield* Deferred.isDone(cancelled.done))
        assertFalse(yield* engine.cancel(later.id))
        const stats = engine.statsUnsafe()
        deepStrictEqual([stats.cancelled, stats.succeeded, stats.failed], [1, 1, 0])
      }))

    it.effect("after close, submissions fail with EngineClosedError", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const engine = yield* Scope.provide(scope)(makeEngine)
        yield* Scope.close(scope, Exit.void)
        const { calls, done } = yield* submitTo(engine, { op: "sha256", data: "abc" })
        strictEqual(failureTag(yield* Deferred.await(done)), "EngineClosedError")
        strictEqual(calls.count, 1)
        const exit = yield* Effect.exit(engine.run({ op: "sha256", data: "abc" }))
        strictEqual(failureTag(exit), "EngineClosedError")
      }))
  })

testOperations("threads", CryptoEngine.make({ threads: 1, keys }))
testOperations("threads on the platform pool", CryptoEngine.make({ threads: 1, keys, pool: "platform" }))
testOperations("inline", CryptoEngine.makeInline({ keys }))

for (const pool of ["hand-made", "platform"] as const) {
  describe(`threads (${pool} pool)`, () => {
    it.effect("several workers share the load and the keys", () =>
      Effect.gen(function*() {
        const spawned: Array<Worker> = []
        const engine = yield* CryptoEngine.make({
          threads: 3,
          keys,
          pool,
          onWorkerSpawn: (worker) => spawned.push(worker)
        })
        strictEqual(engine.threads, 3)
        strictEqual(spawned.length, 3)
        const results = yield* Effect.forEach(
          Array.from({ length: 24 }, (_, i) => `message ${i}`),
          (data) => engine.run({ op: "ecdsa-p256-sign", data }).pipe(Effect.map((result) => ({ data, result }))),
          { concurrency: "unbounded" }
        )
        for (const { data, result } of results) {
          strictEqual(result.publicKey, engine.publicKeys.ecdsaP256)
          assertTrue(verify(data, result.publicKey, result.signature))
        }
        assertStats(engine, { succeeded: 24 })
      }))

    it.effect("interrupting run cancels the request", () =>
      Effect.gen(function*() {
        const engine = yield* CryptoEngine.make({ threads: 1, keys, pool })
        const fiber = yield* Effect.forkChild(engine.run({ op: "scrypt", password: "p", salt: "s", N: 65536 }))
        yield* Effect.yieldNow
        strictEqual(engine.statsUnsafe().inFlight, 1)
        yield* Fiber.interrupt(fiber)
        assertTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
        yield* engine.run({ op: "sha256", data: "abc" })
        const stats = engine.statsUnsafe()
        deepStrictEqual([stats.cancelled, stats.succeeded, stats.failed], [1, 1, 0])
      }))

    it.effect("a queued request that is cancelled never reaches a worker", () =>
      Effect.gen(function*() {
        const engine = yield* CryptoEngine.make({ threads: 1, maxInFlightPerThread: 1, keys, pool })
        const first = yield* submitTo(engine, { op: "scrypt", password: "p", salt: "s", N: 16384 })
        const second = yield* submitTo(engine, { op: "scrypt", password: "p", salt: "s", N: 16384 })
        deepStrictEqual([engine.statsUnsafe().inFlight, engine.statsUnsafe().queued], [1, 1])
        assertTrue(engine.cancelUnsafe(second.id))
        deepStrictEqual([engine.statsUnsafe().inFlight, engine.statsUnsafe().queued], [1, 0])
        assertTrue(Exit.isSuccess(yield* Deferred.await(first.done)))
        const third = yield* submitTo(engine, { op: "sha256", data: "abc" })
        assertTrue(Exit.isSuccess(yield* Deferred.await(third.done)))
        strictEqual(second.calls.count, 0)
        assertStats(engine, { succeeded: 2, cancelled: 1 })
      }))

    it.effect("the queue is bounded by bytes: a request past maxQueuedBytes fails at once with EngineOverloadedError", () =>
      Effect.gen(function*() {
        const engine = yield* CryptoEngine.make({
          threads: 1,
          maxInFlightPerThread: 1,
          maxQueuedBytes: 100,
          keys,
          pool
        })
        const busy = yield* submitTo(engine, { op: "scrypt", password: "p", salt: "s", N: 16384 })
        // 40 UTF-16 units count 80 bytes: queued; 20 more (40 bytes) would pass the bound
        const queued = yield* submitTo(engine, { op: "sha256", data: "x".repeat(40) })
        const refused = yield* submitTo(engine, { op: "sha256", data: "y".repeat(20) })
        deepStrictEqual([engine.statsUnsafe().queued, engine.statsUnsafe().queuedBytes], [1, 80])
        strictEqual(failureTag(yield* Deferred.await(refused.done)), "EngineOverloadedError")
        assertFalse(refused.calls.duringSubmit)
        assertTrue(Exit.isSuccess(yield* Deferred.await(busy.done)))
        assertTrue(Exit.isSuccess(yield* Deferred.await(queued.done)))
        // with the queue empty, one request of any size is taken
        const large = yield* submitTo(engine, { op: "sha256", data: "z".repeat(1000) })
        assertTrue(Exit.isSuccess(yield* Deferred.await(large.done)))
        strictEqual(engine.statsUnsafe().queuedBytes, 0)
      }))

    it.effect("closing the scope fails in-flight and queued requests and terminates every worker", () =>
      Effect.gen(function*() {
        const { exited, onWorkerSpawn, spawned } = trackWorkers()
        const scope = yield* Scope.make()
        const engine = yield* Scope.provide(scope)(
          CryptoEngine.make({ threads: 2, maxInFlightPerThread: 1, keys, pool, onWorkerSpawn })
        )
        const requests = yield* Effect.forEach(
          [1, 2, 3, 4],
          () => submitTo(engine, { op: "scrypt", password: "p", salt: "s", N: 65536 })
        )
        deepStrictEqual([engine.statsUnsafe().inFlight, engine.statsUnsafe().queued], [2, 2])
        yield* Scope.close(scope, Exit.void)
        strictEqual(spawned.length, 2)
        deepStrictEqual([...exited].sort(), [...spawned].sort())
        for (const request of requests) {
          strictEqual(failureTag(yield* Deferred.await(request.done)), "EngineClosedError")
          strictEqual(request.calls.count, 1)
        }
        assertStats(engine, { failed: 4 })
      }))

    it.effect("a crashing worker fails its requests with WorkerCrashedError and is respawned", () =>
      Effect.gen(function*() {
        const { exited, onWorkerSpawn, spawned } = trackWorkers()
        const scope = yield* Scope.make()
        const engine = yield* Scope.provide(scope)(
          CryptoEngine.make({ threads: 1, maxInFlightPerThread: 2, keys, pool, onWorkerSpawn })
        )
        // the worker reads the crash message first, so the two requests posted after it are lost with it
        const crashed = crashWorkerUnsafe(engine, 0)
        const lost = yield* Effect.forEach([1, 2], () => submitTo(engine, { op: "sha256", data: "abc" }))
        const queued = yield* submitTo(engine, { op: "sha256", data: "abc" })
        for (const request of lost) {
          const exit = yield* Deferred.await(request.done)
          strictEqual(failureTag(exit), "WorkerCrashedError")
          const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
          strictEqual(
            error?._tag === "Some" && error.value._tag === "WorkerCrashedError" && error.value.threadId,
            crashed
          )
          strictEqual(request.calls.count, 1)
        }
        // the queued request went to the replacement
        deepStrictEqual(
          yield* Deferred.await(queued.done),
          Exit.succeed(abcSha256)
        )
        strictEqual(spawned.length, 2)
        deepStrictEqual(exited, [crashed])
        assertStats(engine, { succeeded: 1, failed: 2, workerCrashes: 1 })
        yield* Scope.close(scope, Exit.void)
        deepStrictEqual([...exited].sort(), [...spawned].sort())
      }))
  })
}

describe("inline", () => {
  it.effect("gives the same results as the worker threads", () =>
    Effect.gen(function*() {
      const threads = yield* CryptoEngine.make({ threads: 2, keys })
      const inline = yield* CryptoEngine.makeInline({ keys })
      strictEqual(inline.mode, "inline")
      strictEqual(inline.threads, 0)
      deepStrictEqual(inline.publicKeys, threads.publicKeys)
      const deterministic: Array<Operation.Request> = [
        { op: "sha256", data: text },
        { op: "rsa2048-sign", data: text },
        { op: "scrypt", password: text, salt: "salt", N: 4096 }
      ]
      for (const request of deterministic) {
        deepStrictEqual(yield* inline.run(request), yield* threads.run(request))
      }
      const signed = yield* inline.run({ op: "ecdsa-p256-sign", data: text })
      strictEqual(signed.publicKey, (yield* threads.run({ op: "ecdsa-p256-sign", data: text })).publicKey)
      assertTrue(verify(text, signed.publicKey, signed.signature))
    }))

  it.effect("closing fails requests not yet delivered", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const engine = yield* Scope.provide(scope)(CryptoEngine.makeInline({ keys }))
      const request = yield* submitTo(engine, { op: "sha256", data: "abc" })
      yield* Scope.close(scope, Exit.void)
      strictEqual(failureTag(yield* Deferred.await(request.done)), "EngineClosedError")
      strictEqual(request.calls.count, 1)
    }))
})

describe("layers", () => {
  it.effect("layerConfig picks the engine from ENGINE and ENGINE_THREADS", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
      const describeEngine = Effect.gen(function*() {
        const engine = yield* CryptoEngine.CryptoEngine
        deepStrictEqual(yield* CryptoEngine.run({ op: "sha256", data: "abc" }), abcSha256)
        return [engine.mode, engine.threads]
      })
      deepStrictEqual(
        yield* describeEngine.pipe(
          Effect.provide(CryptoEngine.layerConfig.pipe(Layer.provide(withEnv({ ENGINE: "inline" }))))
        ),
        ["inline", 0]
      )
      deepStrictEqual(
        yield* describeEngine.pipe(
          Effect.provide(CryptoEngine.layerConfig.pipe(Layer.provide(withEnv({ ENGINE_THREADS: "2" }))))
        ),
        ["threads", 2]
      )
      const bad = yield* Effect.exit(
        describeEngine.pipe(Effect.provide(CryptoEngine.layerConfig.pipe(Layer.provide(withEnv({ ENGINE: "gpu" })))))
      )
      assertTrue(Exit.isFailure(bad))
    }))
})
