/**
 * What a pool reports: spans (through whatever Tracer is installed;
 * here one that prints each span as it ends), metrics (Effect
 * Metrics, summed over the pools of a metric registry), and every
 * event through a JobObserver.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobMetrics from "@async-job/core/JobMetrics"
import * as JobObserver from "@async-job/core/JobObserver"
import * as JobPool from "@async-job/core/JobPool"
import {
  Console,
  Effect,
  type Exit,
  Layer,
  Metric,
  Option,
  Tracer
} from "effect"

/** Wraps a tracer so that every span is printed when it ends. */
const printing = (inner: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span: (options) => {
      const span = inner.span(options)
      const end = span.end.bind(span)
      return Object.assign(span, {
        end: (
          endTime: bigint,
          exit: Exit.Exit<unknown, unknown>
        ) => {
          end(endTime, exit)
          const parent = Option.getOrUndefined(options.parent)
          const parentName = parent?._tag === "Span"
            ? parent.name
            : "none"
          const id = span.attributes.get("async_job.id") ?? "-"
          console.log(
            `span ${options.name} (parent ${parentName}, ` +
              `job ${id}): ${exit._tag}`
          )
        }
      })
    },
    context: inner.context
  })

const events: Array<string> = []
const ObserverLive = JobObserver.layer((event) =>
  events.push(event._tag)
)
const PoolLive = JobPool.layer({ maxSize: 1 }).pipe(
  Layer.provide(ObserverLive)
)

const program = Effect.gen(function*() {
  yield* AsyncJob.run(Effect.as(AsyncJob.pause, "done"))
  yield* Effect.ignore(
    Effect.andThen(
      AsyncJob.start(AsyncJob.pause),
      AsyncJob.start(AsyncJob.pause)
    )
  )

  // summed over the pools of the metric registry in context (by
  // default the process's one; here one pool)
  const count = (metric: Metric.Counter<number>) =>
    Effect.map(Metric.value(metric), (state) => state.count)
  const finished = Metric.withAttributes(JobMetrics.finishes, {
    outcome: "finished"
  })
  const pausedNow = yield* Metric.value(JobMetrics.paused)
  const starts = yield* count(JobMetrics.starts)
  const pauses = yield* count(JobMetrics.pauses)
  const resumes = yield* count(JobMetrics.resumes)
  const noJobs = yield* count(JobMetrics.noJobs)
  const ended = yield* count(finished)
  yield* Console.log(
    `metrics: starts ${starts}, pauses ${pauses}, ` +
      `resumes ${resumes}, no jobs ${noJobs}, ` +
      `finished ${ended}, paused now ${pausedNow.value}`
  )
  yield* Console.log(`observer: ${events.join(", ")}`)
}).pipe(Effect.withSpan("program"))

Effect.runPromise(
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    yield* program.pipe(
      Effect.provide(PoolLive),
      Effect.withTracer(printing(tracer))
    )
  })
)
