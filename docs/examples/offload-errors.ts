/**
 * The errors of the offload service's guide, run against the real
 * service (see `offload/curl.ts`): a body that does not match the
 * schema, and a full pool (two scrypt jobs queued on one engine
 * thread, then a third).
 */
import { curl, scrypt, startService, stop } from "./offload/curl.js"

{
  const { child, url } = await startService({
    POOL_MAX: "2",
    ENGINE_THREADS: "1"
  })
  try {
    await curl(url, "POST", "/jobs", { body: `{"op":"sha256"}` })
    await curl(url, "POST", "/jobs", { body: scrypt, print: false })
    await curl(url, "POST", "/jobs", { body: scrypt, print: false })
    console.log("$ # with POOL_MAX=2 and two jobs outstanding:")
    await curl(url, "POST", "/jobs", {
      body: scrypt,
      headers: ["retry-after"]
    })
  } finally {
    await stop(child)
  }
}
