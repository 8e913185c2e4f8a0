import { Effect, ManagedRuntime } from "effect"
import * as AsyncJob from "./src/AsyncJob.js"
import * as JobPool from "./src/JobPool.js"
const N = 300000
const body = Effect.as(AsyncJob.pause, 1)
const rt = ManagedRuntime.make(JobPool.layer({ maxSize: 16 }))
await rt.runPromise(Effect.gen(function*() {
  for (let i = 0; i < N; i++) {
    const s = yield* AsyncJob.start(body)
    if (s._tag === "Paused") yield* AsyncJob.resume(s.job)
  }
}))
