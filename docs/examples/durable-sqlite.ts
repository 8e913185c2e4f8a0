/**
 * Resuming from another process, on SQLite: one process starts two
 * refunds and exits while they are paused; a second process, on the
 * same file, approves one with the token the first handed over,
 * resumes it to its end, and cancels the other. One process at a
 * time per SQLite file: the second starts after the first has
 * exited.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect, FileSystem } from "effect"
import { run } from "./durable/processes.js"

const program = Effect.gen(function*() {
  // a fresh folder for the database and the tokens, removed at the
  // end
  const dir = yield* (yield* FileSystem.FileSystem)
    .makeTempDirectoryScoped()
  for (const file of ["sqlite-start.ts", "sqlite-resume.ts"]) {
    yield* Console.log(`$ node --import tsx ${file}`)
    yield* Console.log((yield* run(`./${file}`, [dir])).trimEnd())
  }
})

// runMain: on Ctrl-C or SIGTERM too, the scope closes (the
// processes it started are stopped, the folder removed)
NodeRuntime.runMain(
  program.pipe(Effect.scoped, Effect.provide(NodeServices.layer))
)
