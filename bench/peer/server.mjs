// @ts-check
/**
 * The offload service's peer baseline: the same routes and JSON, built the way a Node developer would build it
 * instead, with Fastify 5 and a piscina 5 pool of one worker thread per core. The bench measures the service
 * against it (`pnpm bench --only service`); `bench/test/peer.test.ts` asserts that both answer the same bytes.
 *
 * `PORT` (0: a free one) and `HOST` as the service reads them; `PEER_KEYS` (a JSON file of DER key bytes in
 * base64, as `keys.mjs` writes it) makes it sign with given keys instead of keys generated at start.
 * Prints `… listening on http://HOST:PORT` once it listens; SIGTERM and SIGINT close it.
 */
import Fastify from "fastify"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { Piscina } from "piscina"

const generate = (/** @type {"ec" | "rsa"} */ type) =>
  new Promise((resolve, reject) => {
    const encoding = {
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" }
    }
    const done = (
      /** @type {Error | null} */ error,
      /** @type {Buffer} */ publicKey,
      /** @type {Buffer} */ privateKey
    ) => error ? reject(error) : resolve({ privateKey, publicKey })
    if (type === "ec") Crypto.generateKeyPair("ec", { namedCurve: "P-256", ...encoding }, done)
    else Crypto.generateKeyPair("rsa", { modulusLength: 2048, ...encoding }, done)
  })

const fromFile = (/** @type {string} */ file) => {
  const json = JSON.parse(Fs.readFileSync(file, "utf8"))
  const pair = (/** @type {{ privateKey: string, publicKey: string }} */ p) => ({
    privateKey: Buffer.from(p.privateKey, "base64"),
    publicKey: Buffer.from(p.publicKey, "base64")
  })
  return { ecdsaP256: pair(json.ecdsaP256), rsa2048: pair(json.rsa2048) }
}

const keys = process.env.PEER_KEYS
  ? fromFile(process.env.PEER_KEYS)
  : await Promise.all([generate("ec"), generate("rsa")]).then(([ecdsaP256, rsa2048]) => ({ ecdsaP256, rsa2048 }))

const threads = Os.availableParallelism()
const pool = new Piscina({
  filename: new URL("./worker.mjs", import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
  workerData: keys
})

const input = { type: "string", maxLength: 1024 * 1024 }
const body = {
  oneOf: [
    {
      type: "object",
      required: ["op", "data"],
      properties: { op: { enum: ["sha256", "ecdsa-p256-sign", "rsa2048-sign"] }, data: input }
    },
    {
      type: "object",
      required: ["op", "password", "salt", "N"],
      properties: {
        op: { const: "scrypt" },
        password: input,
        salt: input,
        N: { enum: Array.from({ length: 16 }, (_, i) => 2 ** (i + 1)) }
      }
    }
  ]
}
const querystring = { type: "object", properties: { wait: { enum: ["true", "false"] } } }

/** @type {Map<string, { op: string, state: string, result?: unknown, error?: unknown }>} */
const jobs = new Map()

const app = Fastify({ bodyLimit: 1024 * 1024 + 64 * 1024 })

app.post("/jobs", { schema: { body, querystring } }, async (request, reply) => {
  const job = /** @type {{ op: string }} */ (request.body)
  const id = Crypto.randomUUID()
  const { wait } = /** @type {{ wait?: string }} */ (request.query)
  if (wait === "true") {
    const result = await pool.run(job)
    return { id, op: job.op, state: "finished", result }
  }
  const record = { op: job.op, state: "running", result: undefined }
  jobs.set(id, record)
  pool.run(job).then(
    (result) => Object.assign(record, { state: "finished", result }),
    (error) =>
      Object.assign(record, { state: "failed", error: { tag: "OperationFailedError", message: String(error) } })
  )
  return reply.code(202).send({ id, state: "running" })
})

app.get("/jobs/:id", async (request, reply) => {
  const { id } = /** @type {{ id: string }} */ (request.params)
  const record = jobs.get(id)
  if (record === undefined) return reply.code(404).send({ error: { tag: "NotFound", message: `no job ${id}` } })
  return { id, ...record }
})

app.get("/healthz", async () => ({ status: "ok" }))

const address = await app.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? "127.0.0.1" })
console.log(`fastify-piscina peer listening on ${address}`)

const stop = () => {
  app.close().then(() => pool.destroy()).then(() => process.exit(0))
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
