/**
 * The offload service's guide shows what the service prints when it
 * is stopped with jobs outstanding: this runs it (see
 * `offload/curl.ts`). Two scrypt jobs are paused on one engine
 * thread when SIGTERM arrives, and `SHUTDOWN_GRACE=0` gives them no
 * time: both are cancelled, their wait fds cleaned up, and the
 * process exits 0.
 */
import { curl, scrypt, startService, stop } from "./offload/curl.js"

const { child, output, url } = await startService({
  ENGINE_THREADS: "1",
  SHUTDOWN_GRACE: "0"
})
await curl(url, "POST", "/jobs", { body: scrypt, print: false })
await curl(url, "POST", "/jobs", { body: scrypt, print: false })
await stop(child)
// the port is a free one the system chose; the guide shows the
// default
process.stdout.write(
  output().replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:8080")
)
console.log(`exit code ${child.exitCode}`)
