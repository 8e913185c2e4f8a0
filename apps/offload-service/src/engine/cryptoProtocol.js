// @ts-check
/**
 * The crypto engine's worker protocol on effect's own worker support: an
 * `effect/rpc` group, one procedure per operation, its success the
 * operation's result and its failure {@link OperationRefused}. The engine's
 * `RpcClient` (over `RpcClient.layerProtocolWorker` and `NodeWorker`) encodes
 * a request with the procedure's Schema, the worker's `RpcServer` (over
 * `RpcServer.layerProtocolWorkerRunner` and `NodeWorkerRunner`) decodes it and
 * encodes the answer the same way back.
 *
 * Plain JavaScript (type-checked through JSDoc) so that a worker thread can
 * load it without a TypeScript loader, as `cryptoOps.js`.
 */
import * as Rpc from "effect/rpc/Rpc"
import * as RpcGroup from "effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"

/**
 * `node:crypto` refused the operation; its message.
 */
export class OperationRefused
  extends /** @type {typeof Schema.TaggedError<OperationRefused>} */ (Schema.TaggedError)()("OperationRefused", {
    message: Schema.String
  })
{}

const Signature = (/** @type {"ecdsa-p256-sign" | "rsa2048-sign"} */ op) =>
  Schema.Struct({ op: Schema.Literal(op), signature: Schema.String, publicKey: Schema.String })

/** SHA-256 of the UTF-8 bytes of `data`. */
export const Sha256 = Rpc.make("Sha256", {
  payload: { data: Schema.String },
  success: Schema.Struct({ op: Schema.Literal("sha256"), digest: Schema.String }),
  error: OperationRefused
})

/** An ECDSA P-256 signature of `data` under the engine's key. */
export const EcdsaP256Sign = Rpc.make("EcdsaP256Sign", {
  payload: { data: Schema.String },
  success: Signature("ecdsa-p256-sign"),
  error: OperationRefused
})

/** An RSA-2048 (PKCS#1 v1.5) signature of `data` under the engine's key. */
export const Rsa2048Sign = Rpc.make("Rsa2048Sign", {
  payload: { data: Schema.String },
  success: Signature("rsa2048-sign"),
  error: OperationRefused
})

/** scrypt of `password` and `salt` at cost `N`. */
export const Scrypt = Rpc.make("Scrypt", {
  payload: { password: Schema.String, salt: Schema.String, N: Schema.Number },
  success: Schema.Struct({ op: Schema.Literal("scrypt"), derivedKey: Schema.String }),
  error: OperationRefused
})

/**
 * Answers once the worker serves requests (its keys imported): the engine
 * waits for it before it counts the worker as started.
 */
export const Ready = Rpc.make("Ready")

/**
 * A test hook: the worker exits (code 70) as soon as it reads this request,
 * so that every request it holds is lost with it. Never answered.
 */
export const Crash = Rpc.make("Crash")

/** Every procedure a worker answers. */
export const CryptoRpcs = RpcGroup.make(Sha256, EcdsaP256Sign, Rsa2048Sign, Scrypt, Ready, Crash)

/**
 * The engine's client of a worker: each procedure as a function of its payload.
 *
 * @typedef {import("effect/rpc/RpcClient").RpcClient<RpcGroup.Rpcs<typeof CryptoRpcs>, import("effect/rpc/RpcClientError").RpcClientError>} CryptoClient
 */

/**
 * Runs an operation request on a worker through its client.
 *
 * @param {CryptoClient} client
 * @param {import("./cryptoOps.js").OpRequest} request
 * @returns {import("effect/Effect").Effect<import("./cryptoOps.js").OpResult, OperationRefused | import("effect/rpc/RpcClientError").RpcClientError>}
 */
export const call = (client, request) => {
  switch (request.op) {
    case "sha256":
      return client.Sha256({ data: request.data })
    case "ecdsa-p256-sign":
      return client.EcdsaP256Sign({ data: request.data })
    case "rsa2048-sign":
      return client.Rsa2048Sign({ data: request.data })
    case "scrypt":
      return client.Scrypt({ password: request.password, salt: request.salt, N: request.N })
  }
}
