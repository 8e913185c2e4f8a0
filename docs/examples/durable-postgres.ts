/**
 * Two runners on Postgres: runner a starts a refund, which pauses, and keeps running; runner b, another process
 * on the same database, approves it with the token runner a handed over and resumes it to its end; runner a then
 * sees it finished. The database is a throwaway server of the repository's test support (`initdb` and `pg_ctl` in
 * a temp dir): a machine where none can be started fails this example.
 */
import * as Postgres from "@async-job/test-postgres"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as FileSystem from "@effect/platform/FileSystem"
import { Console, Effect } from "effect"
import { run, start } from "./durable/processes.js"

const program = Effect.gen(function*() {
  const url = yield* Postgres.server
  const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()

  yield* Console.log("$ node --import tsx pg-start.ts &")
  const a = yield* start("./pg-start.ts", [url, String(yield* Postgres.freePort), dir])
  yield* Console.log((yield* a.readUntil("runner a: running until stdin closes")).join("\n"))

  yield* Console.log("$ node --import tsx pg-approve.ts")
  yield* Console.log((yield* run("./pg-approve.ts", [url, String(yield* Postgres.freePort), dir])).trimEnd())

  yield* Console.log("# runner a's stdin closes")
  yield* Console.log((yield* a.stop).join("\n"))
})

// runMain: on Ctrl-C or SIGTERM too, the scope closes (the processes it started are stopped, the folder removed)
NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
