/**
 * The client process of `loadgen --pin` (started by `Pin.runClient`, pinned
 * with `taskset`): runs `Load.run` with the options of its one JSON argument
 * (`Pin.ClientArgs`) and prints `Pin.ClientLine`s on stdout: `{"done":n}` as
 * requests end, then `{"report":…}`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Load from "./Load.js"
import * as Pin from "./Pin.js"

const say = Schema.encodeSync(Pin.ClientLine)

Effect.gen(function*() {
  const options = yield* Schema.decodeUnknownEffect(Pin.ClientArgs)(process.argv[2])
  const report = yield* Load.run({
    ...options,
    onProgress: (done) => process.stdout.write(`${say({ done })}\n`)
  })
  yield* Effect.sync(() => process.stdout.write(`${say({ report })}\n`))
}).pipe(
  Effect.provide(NodeHttpClient.layerUndici),
  NodeRuntime.runMain
)
