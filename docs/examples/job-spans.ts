/**
 * Where a job's own spans go: each one is a child of the
 * AsyncJob.start or AsyncJob.resume span of the segment that opened
 * it, and those are children of the caller's span (here
 * AsyncJob.run's). A span the job opened and paused inside stays
 * the parent of what it opens after the resume; once it ends, the
 * segment's span is the parent again.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect, Option, Tracer } from "effect"

/** A tracer printing each span and its parent as it starts. */
const printing = (inner: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span: (options) => {
      const parent = Option.getOrUndefined(options.parent)
      const parentName = parent?._tag === "Span"
        ? parent.name
        : "none"
      console.log(`${options.name} under ${parentName}`)
      return inner.span(options)
    },
    context: inner.context
  })

const job = Effect.gen(function*() {
  yield* Effect.void.pipe(Effect.withSpan("job: first segment"))
  yield* AsyncJob.pause
  yield* Effect.void.pipe(Effect.withSpan("job: second segment"))
  yield* Effect.gen(function*() {
    yield* AsyncJob.pause
    yield* Effect.void.pipe(
      Effect.withSpan("job: inside it, resumed")
    )
  }).pipe(Effect.withSpan("job: across a pause"))
  yield* Effect.void.pipe(Effect.withSpan("job: after it"))
  return "done"
})

const program = Effect.gen(function*() {
  const result = yield* AsyncJob.run(job)
  yield* Console.log(`result: ${result}`)
}).pipe(Effect.withSpan("program"))

Effect.runPromise(
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    yield* program.pipe(
      Effect.provide(JobPool.layer({ maxSize: 1 })),
      Effect.withTracer(printing(tracer))
    )
  })
)
