/**
 * The offload service's peer baseline (`bench/peer`, Fastify 5 + piscina 5)
 * answers what the service answers, byte for byte: both sign with the same
 * keys, and `POST /jobs?wait=true` gets the same bytes from both once the job
 * id (a fresh UUID on each side) is set aside. ECDSA signatures are
 * randomized (a fresh nonce per signature), so an ECDSA answer is the same
 * bytes but for its signature, which verifies under the same public key.
 */
import * as ServiceConfig from "@async-job/offload-service/config"
import * as CryptoEngine from "@async-job/offload-service/engine/CryptoEngine"
import * as Server from "@async-job/offload-service/http/server"
import * as Service from "@async-job/offload-service/loadgen/Service"
import { describe, it } from "@effect/vitest"
import { assertTrue, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const peerEntry = fileURLToPath(new URL("../peer/server.mjs", import.meta.url))
const keys = await Effect.runPromise(CryptoEngine.generateKeys)

/** The keys as the peer reads them (`PEER_KEYS`), in a file of this test's own. */
const keyFile = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "peer-keys-"))
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")
    const pair = (p: CryptoEngine.KeyMaterial["rsa2048"]) => ({
      privateKey: b64(p.privateKey),
      publicKey: b64(p.publicKey)
    })
    const file = Path.join(dir, "keys.json")
    Fs.writeFileSync(file, JSON.stringify({ ecdsaP256: pair(keys.ecdsaP256), rsa2048: pair(keys.rsa2048) }))
    return { dir, file }
  }),
  ({ dir }) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** The peer on a free loopback port, with the test's keys; stopped with the scope. */
const peer = Effect.gen(function*() {
  const { file } = yield* keyFile
  const port = yield* Service.freePort("127.0.0.1")
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(process.execPath, [peerEntry], {
        env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", PEER_KEYS: file },
        stdio: ["ignore", "pipe", "inherit"]
      })
    ),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
  yield* Effect.callback<void>((resume) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("listening")) resume(Effect.void)
    })
  })
  return `http://127.0.0.1:${port}`
})

const post = (url: string, body: unknown) =>
  Effect.promise(() =>
    fetch(`${url}/jobs?wait=true`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" }
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

const withoutId = (text: string) => text.replace(/"id":"[0-9a-f-]{36}"/, `"id":"…"`)

const TestService = Server.layer.pipe(
  Layer.provide(CryptoEngine.layer({ threads: 1, keys })),
  Layer.provide(ServiceConfig.layer({ port: 0 }))
)

describe("the peer baseline answers the service's bytes", () => {
  it.live("sha256, rsa2048-sign and scrypt: the same bytes but the job id; ecdsa-p256-sign: but the id and the signature", () =>
    Effect.gen(function*() {
      const service = yield* Server.url
      const other = yield* peer
      const data = "héllo ✓ ".repeat(100)
      for (
        const body of [
          { op: "sha256", data },
          { op: "rsa2048-sign", data },
          { op: "scrypt", password: "pw", salt: "salt", N: 1024 }
        ]
      ) {
        const [a, b] = [yield* post(service, body), yield* post(other, body)]
        strictEqual(a.status, 200)
        strictEqual(b.status, 200)
        strictEqual(withoutId(a.text), withoutId(b.text), body.op)
      }
      const ecdsa = { op: "ecdsa-p256-sign", data }
      const [a, b] = [yield* post(service, ecdsa), yield* post(other, ecdsa)]
      const signature = /"signature":"([^"]+)"/
      strictEqual(
        withoutId(a.text).replace(signature, `"signature":"…"`),
        withoutId(b.text).replace(signature, `"signature":"…"`)
      )
      const publicKey = Crypto.createPublicKey({
        key: Buffer.from(keys.ecdsaP256.publicKey),
        format: "der",
        type: "spki"
      })
      for (const text of [a.text, b.text]) {
        const sig = Buffer.from(signature.exec(text)![1]!, "base64")
        assertTrue(Crypto.verify("sha256", Buffer.from(data, "utf8"), publicKey, sig))
      }
    }).pipe(Effect.scoped, Effect.provide(TestService)))
})
