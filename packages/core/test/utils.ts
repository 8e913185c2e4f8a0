import { Effect, Ref } from "effect"
import type * as AsyncJob from "../src/AsyncJob.js"

/** An action log, asserted as a whole sequence (the style of Effect's own Scope tests). */
export const makeLog = Effect.map(Ref.make<ReadonlyArray<string>>([]), (ref) => ({
  add: (entry: string) => Ref.update(ref, (entries) => [...entries, entry]),
  get: Ref.get(ref)
}))

/** The handle of a `Paused` step; dies on `Finished`, which a test did not expect. */
export const pausedJob = <A, E>(step: AsyncJob.JobResult<A, E>): Effect.Effect<AsyncJob.Job<A, E>> =>
  step._tag === "Paused"
    ? Effect.succeed(step.job)
    : Effect.die(`expected Paused, got Finished(${String(step.value)})`)

/** The value of a `Finished` step; dies on `Paused`. */
export const finishedValue = <A, E>(step: AsyncJob.JobResult<A, E>): Effect.Effect<A> =>
  step._tag === "Finished" ? Effect.succeed(step.value) : Effect.die("expected Finished, got Paused")

/** Pool counts with no job outstanding. */
export const allIdle = (maxSize: number, created: number) => ({
  maxSize,
  created,
  idle: created,
  running: 0,
  paused: 0
})
