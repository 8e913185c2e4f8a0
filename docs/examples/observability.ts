/**
 * What a pool reports: spans (through whatever Tracer is installed; here one that prints each span as it
 * ends), metrics (Effect Metrics labelled by pool), and every event through a JobObserver.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobMetrics from "@async-job/core/JobMetrics"
import * as JobObserver from "@async-job/core/JobObserver"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect, Layer, Metric, Tracer } from "effect"

/** Wraps a tracer so that every span is printed when it ends. */
const printing = (inner: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = inner.span(name, parent, context, links, startTime, kind, options)
      const end = span.end.bind(span)
      return Object.assign(span, {
        end: (endTime: bigint, exit: Parameters<Tracer.Span["end"]>[1]) => {
          end(endTime, exit)
          const parentName = parent._tag === "Some" && parent.value._tag === "Span" ? parent.value.name : "none"
          const id = span.attributes.get("async_job.id") ?? "-"
          console.log(`span ${name} (parent ${parentName}, job ${id}): ${exit._tag}`)
        }
      })
    },
    context: (f, fiber) => inner.context(f, fiber)
  })

const events: Array<string> = []
const ObserverLive = JobObserver.layer((event) => events.push(event._tag))
const PoolLive = JobPool.layer({ maxSize: 1 }).pipe(Layer.provide(ObserverLive))

const program = Effect.gen(function*() {
  yield* AsyncJob.run(Effect.as(AsyncJob.pause, "done"))
  yield* Effect.ignore(Effect.zipRight(AsyncJob.start(AsyncJob.pause), AsyncJob.start(AsyncJob.pause)))

  // process-wide: summed over every pool of the process (here there is one)
  const count = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)
  const finished = Metric.tagged(JobMetrics.finishes, "outcome", "finished")
  const pausedNow = yield* Metric.value(JobMetrics.paused)
  yield* Console.log(
    `metrics: starts ${yield* count(JobMetrics.starts)}, pauses ${yield* count(JobMetrics.pauses)}, ` +
      `resumes ${yield* count(JobMetrics.resumes)}, no jobs ${yield* count(JobMetrics.noJobs)}, ` +
      `finished ${yield* count(finished)}, paused now ${pausedNow.value}`
  )
  yield* Console.log(`observer: ${events.join(", ")}`)
}).pipe(Effect.withSpan("program"))

Effect.runPromise(
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    yield* program.pipe(Effect.provide(PoolLive), Effect.withTracer(printing(tracer)))
  })
)
