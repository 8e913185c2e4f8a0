/**
 * `pnpm start`: the async offload job service on `127.0.0.1:8080`, or where
 * `HOST` and `PORT` say (see `ServiceConfig` for every variable).
 *
 * SIGINT and SIGTERM shut it down: no more requests, outstanding jobs
 * cancelled (their wait fds cleaned up), engine threads stopped, exit 0.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CryptoEngine from "./CryptoEngine.js"
import * as Server from "./Server.js"
import * as ServiceConfig from "./ServiceConfig.js"

// built first, so released last: after the engine's threads have stopped
const Stopped = Layer.scopedDiscard(Effect.addFinalizer(() => Console.log("stopped")))

Server.layer.pipe(
  Layer.provide(CryptoEngine.layerConfig),
  Layer.provide(ServiceConfig.layerConfig),
  Layer.provide(Stopped),
  Layer.launch,
  NodeRuntime.runMain
)
