/**
 * The session of the offload service's guide, run against the real
 * service (see `offload/curl.ts`): a job that finishes at once, one
 * that pauses on the engine and is read back once finished, a
 * refused cancel, the stats.
 */
import { curl, scrypt, startService, stop } from "./offload/curl.js"

{
  const { child, url } = await startService({})
  try {
    await curl(url, "POST", "/jobs?wait=true", {
      body: `{"op":"sha256","data":"hello"}`
    })
    const { id } = await curl(url, "POST", "/jobs", {
      body: scrypt
    })
    // the guide shows the job once it has finished: wait for that
    // without printing
    while (
      (await curl(url, "GET", `/jobs/${id}`, { print: false }))
        .state === "paused"
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await curl(url, "GET", `/jobs/${id}`)
    await curl(url, "DELETE", `/jobs/${id}`)
    await curl(url, "GET", "/stats")
  } finally {
    await stop(child)
  }
}
