// @ts-check
/**
 * The crypto engine's worker protocol, as `Schema.TaggedRequest`s: one
 * request per operation, its success the operation's result and its failure
 * {@link OperationRefused}. `@effect/platform`'s `Worker` encodes a request
 * with `Schema.serialize`, the worker's `WorkerRunner` decodes it and encodes
 * the answer the same way back.
 *
 * Plain JavaScript (type-checked through JSDoc) so that a worker thread can
 * load it without a TypeScript loader, as `cryptoOps.js`.
 *
 * @internal
 */
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
export class Sha256 extends /** @type {typeof Schema.TaggedRequest<Sha256>} */ (Schema.TaggedRequest)()("Sha256", {
  failure: OperationRefused,
  success: Schema.Struct({ op: Schema.Literal("sha256"), digest: Schema.String }),
  payload: { data: Schema.String }
}) {}

/** An ECDSA P-256 signature of `data` under the engine's key. */
export class EcdsaP256Sign
  extends /** @type {typeof Schema.TaggedRequest<EcdsaP256Sign>} */ (Schema.TaggedRequest)()("EcdsaP256Sign", {
    failure: OperationRefused,
    success: Signature("ecdsa-p256-sign"),
    payload: { data: Schema.String }
  })
{}

/** An RSA-2048 (PKCS#1 v1.5) signature of `data` under the engine's key. */
export class Rsa2048Sign
  extends /** @type {typeof Schema.TaggedRequest<Rsa2048Sign>} */ (Schema.TaggedRequest)()("Rsa2048Sign", {
    failure: OperationRefused,
    success: Signature("rsa2048-sign"),
    payload: { data: Schema.String }
  })
{}

/** scrypt of `password` and `salt` at cost `N`. */
export class Scrypt extends /** @type {typeof Schema.TaggedRequest<Scrypt>} */ (Schema.TaggedRequest)()("Scrypt", {
  failure: OperationRefused,
  success: Schema.Struct({ op: Schema.Literal("scrypt"), derivedKey: Schema.String }),
  payload: { password: Schema.String, salt: Schema.String, N: Schema.Number }
}) {}

/**
 * A test hook: the worker exits (code 70) as soon as it reads this request,
 * so that every request it holds is lost with it. Never answered.
 */
export class Crash extends /** @type {typeof Schema.TaggedRequest<Crash>} */ (Schema.TaggedRequest)()("Crash", {
  failure: OperationRefused,
  success: Schema.Void,
  payload: {}
}) {}

/** Every request a worker answers. */
export const WorkerRequest = Schema.Union(Sha256, EcdsaP256Sign, Rsa2048Sign, Scrypt, Crash)

/**
 * The protocol request of an operation request.
 *
 * @param {import("./cryptoOps.js").OpRequest} request
 * @returns {Sha256 | EcdsaP256Sign | Rsa2048Sign | Scrypt}
 */
export const toWorkerRequest = (request) => {
  switch (request.op) {
    case "sha256":
      return new Sha256({ data: request.data })
    case "ecdsa-p256-sign":
      return new EcdsaP256Sign({ data: request.data })
    case "rsa2048-sign":
      return new Rsa2048Sign({ data: request.data })
    case "scrypt":
      return new Scrypt({ password: request.password, salt: request.salt, N: request.N })
  }
}

/**
 * The operation request of a protocol request (in the worker).
 *
 * @param {Sha256 | EcdsaP256Sign | Rsa2048Sign | Scrypt} request
 * @returns {import("./cryptoOps.js").OpRequest}
 */
export const toOpRequest = (request) => {
  switch (request._tag) {
    case "Sha256":
      return { op: "sha256", data: request.data }
    case "EcdsaP256Sign":
      return { op: "ecdsa-p256-sign", data: request.data }
    case "Rsa2048Sign":
      return { op: "rsa2048-sign", data: request.data }
    case "Scrypt":
      return { op: "scrypt", password: request.password, salt: request.salt, N: request.N }
  }
}
