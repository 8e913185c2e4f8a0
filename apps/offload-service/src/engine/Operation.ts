/**
 * The engine's operations as Schemas: request bodies, results and their
 * validation rules. The HTTP API uses the same Schemas for its bodies.
 *
 * **Details**
 *
 * A request is a JSON object tagged by `op`:
 *
 * | op | inputs | result |
 * |---|---|---|
 * | `sha256` | `data` | `digest`: the SHA-256 of `data`'s UTF-8 bytes, base64 |
 * | `ecdsa-p256-sign` | `data` | `signature` (DER, ECDSA P-256 with SHA-256) and `publicKey` (SPKI DER), base64 |
 * | `rsa2048-sign` | `data` | `signature` (RSASSA-PKCS1-v1_5 with SHA-256) and `publicKey` (SPKI DER), base64 |
 * | `scrypt` | `password`, `salt`, `N` | `derivedKey`: 64 bytes, r = 8, p = 1, base64 |
 *
 * Every result echoes `op`. Every binary output is base64 (standard alphabet,
 * padded). Every string input is UTF-8 text of at most 1 MiB (1,048,576 bytes
 * once encoded). `N` is an integer power of two with 2 ≤ N ≤ 65536. Fields
 * other than these are ignored.
 */
import * as Effect from "effect/Effect"
import * as Res from "effect/Result"
import * as Schema from "effect/Schema"

/**
 * The largest string input, in UTF-8 bytes: 1 MiB.
 */
export const maxInputBytes = 1024 * 1024

/**
 * The largest scrypt cost parameter: 2^16.
 */
export const maxScryptN = 65536

/**
 * The names of the operations.
 */
export const ops = ["sha256", "ecdsa-p256-sign", "rsa2048-sign", "scrypt"] as const

export type Op = typeof ops[number]

/**
 * A UTF-8 string of at most {@link maxInputBytes} bytes.
 */
export const Input = Schema.String.check(
  Schema.makeFilter((s: string) => {
    // a string of n UTF-16 units encodes to at most 3n UTF-8 bytes: skip the count when that fits
    if (s.length * 3 <= maxInputBytes) return true
    const bytes = Buffer.byteLength(s, "utf8")
    return bytes <= maxInputBytes || `must be at most ${maxInputBytes} bytes of UTF-8, got ${bytes}`
  }, { description: `a UTF-8 string of at most ${maxInputBytes} bytes` })
)

/**
 * The scrypt cost parameter: an integer power of two, 2 ≤ N ≤ 65536.
 */
export const ScryptN = Schema.Number.check(
  Schema.makeFilter(
    (n: number) =>
      (Number.isInteger(n) && n >= 2 && n <= maxScryptN && (n & (n - 1)) === 0) ||
      `must be a power of two between 2 and ${maxScryptN}, got ${n}`,
    { description: `a power of two between 2 and ${maxScryptN}` }
  )
)

export const Sha256Request = Schema.Struct({ op: Schema.Literal("sha256"), data: Input }).annotate({
  identifier: "Sha256Request"
})

export const EcdsaP256SignRequest = Schema.Struct({ op: Schema.Literal("ecdsa-p256-sign"), data: Input })
  .annotate({ identifier: "EcdsaP256SignRequest" })

export const Rsa2048SignRequest = Schema.Struct({ op: Schema.Literal("rsa2048-sign"), data: Input }).annotate({
  identifier: "Rsa2048SignRequest"
})

export const ScryptRequest = Schema.Struct({
  op: Schema.Literal("scrypt"),
  password: Input,
  salt: Input,
  N: ScryptN
}).annotate({ identifier: "ScryptRequest" })

/**
 * A request to the engine, tagged by `op`. Also the body of `POST /jobs`.
 */
export const Request = Schema.Union([Sha256Request, EcdsaP256SignRequest, Rsa2048SignRequest, ScryptRequest])
  .annotate({ identifier: "Request" })

export type Request = typeof Request.Type

export const Sha256Result = Schema.Struct({ op: Schema.Literal("sha256"), digest: Schema.String }).annotate({
  identifier: "Sha256Result"
})

export const EcdsaP256SignResult = Schema.Struct({
  op: Schema.Literal("ecdsa-p256-sign"),
  signature: Schema.String,
  publicKey: Schema.String
}).annotate({ identifier: "EcdsaP256SignResult" })

export const Rsa2048SignResult = Schema.Struct({
  op: Schema.Literal("rsa2048-sign"),
  signature: Schema.String,
  publicKey: Schema.String
}).annotate({ identifier: "Rsa2048SignResult" })

export const ScryptResult = Schema.Struct({ op: Schema.Literal("scrypt"), derivedKey: Schema.String }).annotate({
  identifier: "ScryptResult"
})

/**
 * The engine's answer to a {@link Request}, tagged by the same `op`.
 */
export const Result = Schema.Union([Sha256Result, EcdsaP256SignResult, Rsa2048SignResult, ScryptResult]).annotate({
  identifier: "Result"
})

export type Result = typeof Result.Type

/**
 * The result type of one operation.
 */
export type ResultOf<O extends Op> = Extract<Result, { readonly op: O }>

/**
 * What a request's inputs hold in memory, at most: two bytes per UTF-16 unit
 * of its strings. The byte budgets of queued work count requests by it.
 */
export const requestBytes = (request: Request): number =>
  request.op === "scrypt" ? 2 * (request.password.length + request.salt.length) : 2 * request.data.length

/** The operation alone: decoded first, so that a missing or unknown `op` is reported at `op`. */
const OpField = Schema.Struct({ op: Schema.Literals(ops) })

const decodeOp = Schema.decodeUnknownResult(OpField, { reportInput: true })
const decodeUnion = Schema.decodeUnknownResult(Request, { errors: "all" })

/**
 * Decodes an unknown value (a parsed JSON body) into a {@link Request}: its
 * `op` first (a missing or unknown one is reported at `op`), then the inputs
 * of that operation, every problem reported.
 */
export const decodeRequestResult = (input: unknown): Res.Result<Request, Schema.SchemaError> => {
  const op = decodeOp(input)
  return Res.isFailure(op) ? Res.fail(op.failure) : decodeUnion(input)
}

/**
 * {@link decodeRequestResult} as an Effect.
 */
export const decodeRequest = (input: unknown): Effect.Effect<Request, Schema.SchemaError> =>
  Effect.fromResult(decodeRequestResult(input))
