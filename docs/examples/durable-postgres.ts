/**
 * Two runners on Postgres: runner a starts a refund, which pauses,
 * and keeps running; runner b, another process on the same
 * database, approves it with the token runner a handed over and
 * resumes it to its end; runner a then sees it finished. The
 * database is a throwaway server of the repository's test support
 * (`initdb` and `pg_ctl` in a temp dir): a machine where none can
 * be started fails this example.
 */
import * as Postgres from "@async-job/test-postgres"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect, FileSystem } from "effect"
import * as path from "node:path"
import { run, start } from "./durable/processes.js"

/** The runners' cluster logs, shown only when the example fails. */
const showLogs = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    for (const name of ["runner-a.log", "runner-b.log"]) {
      const log = yield* fs.readFileString(path.join(dir, name))
      yield* Console.error(`--- ${name}\n${log}`)
    }
  }).pipe(Effect.ignore)

const program = Effect.gen(function*() {
  const url = yield* Postgres.server
  const dir = yield* (yield* FileSystem.FileSystem)
    .makeTempDirectoryScoped()
  const args = (port: number) => [url, String(port), dir]

  yield* Effect.gen(function*() {
    yield* Console.log("$ node --import tsx pg-start.ts &")
    const a = yield* start(
      "./pg-start.ts",
      args(yield* Postgres.freePort)
    )
    const started = yield* a.readUntil(
      "runner a: running until stdin closes"
    )
    yield* Console.log(started.join("\n"))

    yield* Console.log("$ node --import tsx pg-approve.ts")
    const b = yield* run(
      "./pg-approve.ts",
      args(yield* Postgres.freePort)
    )
    yield* Console.log(b.trimEnd())

    yield* Console.log("# runner a's stdin closes")
    yield* Console.log((yield* a.stop).join("\n"))
  }).pipe(Effect.onError(() => showLogs(dir)))
})

// runMain: on Ctrl-C or SIGTERM too, the scope closes (the
// processes it started are stopped, the folder removed)
NodeRuntime.runMain(
  program.pipe(Effect.scoped, Effect.provide(NodeServices.layer))
)
