// @ts-check
/**
 * The crypto operations themselves, shared by the worker threads and the
 * inline engine. Plain JavaScript (type-checked through JSDoc) so that a
 * worker thread can load it without a TypeScript loader: under tsx, under
 * vitest and under plain node alike.
 */
import * as Crypto from "node:crypto"

/** scrypt's block size and parallelisation; N comes from the request. */
export const SCRYPT_R = 8
export const SCRYPT_P = 1
export const SCRYPT_KEY_LENGTH = 64

/**
 * The `maxmem` a scrypt of cost N needs. OpenSSL asks for 128 * r * (N + 2)
 * bytes plus 128 * r * p, and node's default limit (32 MiB) refuses N = 2^16
 * with r = 8 (64 MiB); this leaves 1 MiB of headroom.
 *
 * @param {number} N
 * @returns {number}
 */
export const scryptMaxmem = (N) => 128 * SCRYPT_R * (N + 2 + SCRYPT_P) + 1024 * 1024

/**
 * @typedef {{ readonly op: "sha256"; readonly data: string }
 *   | { readonly op: "ecdsa-p256-sign"; readonly data: string }
 *   | { readonly op: "rsa2048-sign"; readonly data: string }
 *   | { readonly op: "scrypt"; readonly password: string; readonly salt: string; readonly N: number }} OpRequest
 */

/**
 * @typedef {{ readonly op: "sha256"; readonly digest: string }
 *   | { readonly op: "ecdsa-p256-sign"; readonly signature: string; readonly publicKey: string }
 *   | { readonly op: "rsa2048-sign"; readonly signature: string; readonly publicKey: string }
 *   | { readonly op: "scrypt"; readonly derivedKey: string }} OpResult
 */

/**
 * The engine's signing keys as DER bytes: PKCS#8 private keys and SPKI public keys.
 * Plain bytes, so they cross to a worker thread by structured clone.
 *
 * @typedef {{
 *   readonly ecdsaP256: { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array }
 *   readonly rsa2048: { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array }
 * }} KeyMaterial
 */

/**
 * Key objects ready for signing, and the public keys already in base64.
 *
 * @typedef {{
 *   readonly ecdsaP256: Crypto.KeyObject
 *   readonly ecdsaP256Public: string
 *   readonly rsa2048: Crypto.KeyObject
 *   readonly rsa2048Public: string
 * }} Signers
 */

/**
 * Imports key material (once per thread).
 *
 * @param {KeyMaterial} material
 * @returns {Signers}
 */
export const importKeys = (material) => ({
  ecdsaP256: Crypto.createPrivateKey({ key: Buffer.from(material.ecdsaP256.privateKey), format: "der", type: "pkcs8" }),
  ecdsaP256Public: Buffer.from(material.ecdsaP256.publicKey).toString("base64"),
  rsa2048: Crypto.createPrivateKey({ key: Buffer.from(material.rsa2048.privateKey), format: "der", type: "pkcs8" }),
  rsa2048Public: Buffer.from(material.rsa2048.publicKey).toString("base64")
})

/**
 * SHA-256 of the UTF-8 bytes of `data`.
 *
 * @param {string} data
 * @returns {{ readonly op: "sha256"; readonly digest: string }}
 */
export const sha256 = (data) => ({
  op: "sha256",
  digest: Crypto.createHash("sha256").update(data, "utf8").digest("base64")
})

/**
 * An ECDSA P-256 signature (DER, SHA-256) of the UTF-8 bytes of `data`.
 *
 * @param {string} data
 * @param {Signers} signers
 * @returns {{ readonly op: "ecdsa-p256-sign"; readonly signature: string; readonly publicKey: string }}
 */
export const ecdsaP256Sign = (data, signers) => ({
  op: "ecdsa-p256-sign",
  signature: Crypto.sign("sha256", Buffer.from(data, "utf8"), signers.ecdsaP256).toString("base64"),
  publicKey: signers.ecdsaP256Public
})

/**
 * An RSA-2048 signature (RSASSA-PKCS1-v1_5, SHA-256) of the UTF-8 bytes of `data`.
 *
 * @param {string} data
 * @param {Signers} signers
 * @returns {{ readonly op: "rsa2048-sign"; readonly signature: string; readonly publicKey: string }}
 */
export const rsa2048Sign = (data, signers) => ({
  op: "rsa2048-sign",
  signature: Crypto.sign("sha256", Buffer.from(data, "utf8"), signers.rsa2048).toString("base64"),
  publicKey: signers.rsa2048Public
})

/**
 * scrypt of `password` and `salt` at cost `N` (r = 8, p = 1, 64 bytes).
 *
 * @param {string} password
 * @param {string} salt
 * @param {number} N
 * @returns {{ readonly op: "scrypt"; readonly derivedKey: string }}
 */
export const scrypt = (password, salt, N) => ({
  op: "scrypt",
  derivedKey: Crypto.scryptSync(password, salt, SCRYPT_KEY_LENGTH, {
    N,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: scryptMaxmem(N)
  }).toString("base64")
})

/**
 * Runs one operation synchronously on the calling thread. Throws what node:crypto throws.
 *
 * @param {OpRequest} request
 * @param {Signers} signers
 * @returns {OpResult}
 */
export const perform = (request, signers) => {
  switch (request.op) {
    case "sha256":
      return sha256(request.data)
    case "ecdsa-p256-sign":
      return ecdsaP256Sign(request.data, signers)
    case "rsa2048-sign":
      return rsa2048Sign(request.data, signers)
    case "scrypt":
      return scrypt(request.password, request.salt, request.N)
  }
}
