// @ts-check
/**
 * The peer's piscina worker: the four operations on node:crypto, one call per task.
 * The keys come in `workerData` as DER bytes (PKCS#8 private, SPKI public), imported once per thread.
 */
import * as Crypto from "node:crypto"
import { workerData } from "node:worker_threads"

/** @type {{ ecdsaP256: { privateKey: Uint8Array, publicKey: Uint8Array }, rsa2048: { privateKey: Uint8Array, publicKey: Uint8Array } }} */
const keys = workerData
const ecdsa = Crypto.createPrivateKey({ key: Buffer.from(keys.ecdsaP256.privateKey), format: "der", type: "pkcs8" })
const rsa = Crypto.createPrivateKey({ key: Buffer.from(keys.rsa2048.privateKey), format: "der", type: "pkcs8" })
const ecdsaPublic = Buffer.from(keys.ecdsaP256.publicKey).toString("base64")
const rsaPublic = Buffer.from(keys.rsa2048.publicKey).toString("base64")

/**
 * @param {{ op: string, data?: string, password?: string, salt?: string, N?: number }} request
 */
export default function run(request) {
  switch (request.op) {
    case "sha256":
      return { op: "sha256", digest: Crypto.createHash("sha256").update(String(request.data), "utf8").digest("base64") }
    case "ecdsa-p256-sign":
      return {
        op: "ecdsa-p256-sign",
        signature: Crypto.sign("sha256", Buffer.from(String(request.data), "utf8"), ecdsa).toString("base64"),
        publicKey: ecdsaPublic
      }
    case "rsa2048-sign":
      return {
        op: "rsa2048-sign",
        signature: Crypto.sign("sha256", Buffer.from(String(request.data), "utf8"), rsa).toString("base64"),
        publicKey: rsaPublic
      }
    default: {
      const N = Number(request.N)
      const derivedKey = Crypto.scryptSync(String(request.password), String(request.salt), 64, {
        N,
        r: 8,
        p: 1,
        maxmem: 128 * 8 * (N + 3) + 1024 * 1024
      })
      return { op: "scrypt", derivedKey: derivedKey.toString("base64") }
    }
  }
}
