/**
 * The plumbing of the multi-process examples of the durable guide:
 * runs a file of this folder in a node process of its own (`node
 * --import tsx <file> <args>`, from the docs folder), its stderr
 * shown as ours, so that a failing process fails the example
 * loudly.
 */
import { Effect, Queue, type Scope, Stream } from "effect"
import {
  ChildProcess,
  type ChildProcessSpawner
} from "effect/process"
import { fileURLToPath } from "node:url"

const docsDir = fileURLToPath(new URL("../..", import.meta.url))

const command = (file: string, args: ReadonlyArray<string>) =>
  ChildProcess.make(
    process.execPath,
    [
      "--import",
      "tsx",
      fileURLToPath(new URL(file, import.meta.url)),
      ...args
    ],
    { cwd: docsDir, stderr: "inherit" }
  )

const exitedWith = (file: string, code: number) =>
  code === 0
    ? Effect.void
    : Effect.die(`${file} exited with code ${code}`)

/**
 * Runs `file` to its end; answers what it printed. A process that
 * exits with another code than 0 is a defect.
 */
export const run = (
  file: string,
  args: ReadonlyArray<string>
): Effect.Effect<
  string,
  never,
  ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.gen(function*() {
    const child = yield* command(file, args)
    const [output, code] = yield* Effect.all([
      Stream.mkString(Stream.decodeText(child.stdout)),
      child.exitCode
    ], { concurrency: "unbounded" })
    yield* exitedWith(file, code)
    return output
  }).pipe(Effect.scoped, Effect.orDie)

/**
 * A process that keeps running: read its lines as it prints them,
 * then close its stdin to let it end.
 */
export interface Running {
  /**
   * The lines it printed, up to and including the first that is
   * `last`.
   */
  readonly readUntil: (
    last: string
  ) => Effect.Effect<ReadonlyArray<string>>
  /**
   * Closes its stdin, and answers the lines it printed until it
   * exited (with code 0; any other is a defect).
   */
  readonly stop: Effect.Effect<ReadonlyArray<string>>
}

/** Starts `file`; the scope kills it if it still runs. */
export const start = (
  file: string,
  args: ReadonlyArray<string>
): Effect.Effect<
  Running,
  never,
  ChildProcessSpawner.ChildProcessSpawner | Scope.Scope
> =>
  Effect.gen(function*() {
    const child = yield* command(file, args)
    // every line it prints, then `undefined` once its stdout ends
    const lines = yield* Queue.unbounded<string | undefined>()
    yield* child.stdout.pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.runForEach((line) => Queue.offer(lines, line)),
      Effect.ensuring(Queue.offer(lines, undefined)),
      Effect.forkScoped
    )
    const takeUntil = (done: (line: string) => boolean) =>
      Effect.gen(function*() {
        const taken: Array<string> = []
        while (true) {
          const line = yield* Queue.take(lines)
          if (line === undefined) return taken
          taken.push(line)
          if (done(line)) return taken
        }
      })
    return {
      readUntil: (last: string) =>
        Effect.flatMap(
          takeUntil((line) => line === last),
          (taken) =>
            taken.at(-1) === last
              ? Effect.succeed(taken)
              : Effect.die(
                `${file} ended before printing "${last}"`
              )
        ),
      stop: Effect.gen(function*() {
        yield* Stream.run(Stream.empty, child.stdin)
        const rest = yield* takeUntil(() => false)
        yield* exitedWith(file, yield* child.exitCode)
        return rest
      }).pipe(Effect.orDie)
    }
  }).pipe(Effect.orDie)
