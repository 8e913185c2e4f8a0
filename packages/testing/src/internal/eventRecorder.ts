import * as JobObserver from "@async-job/core/JobObserver"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as EventRecorder from "../EventRecorder.js"

/** Gives numbers from 1 in order of first appearance. */
class Renumber {
  private readonly ids = new Map<unknown, number>()
  of(id: unknown): number {
    let n = this.ids.get(id)
    if (n === undefined) {
      n = this.ids.size + 1
      this.ids.set(id, n)
    }
    return n
  }
}

const describeKey = (key: unknown): string => {
  switch (typeof key) {
    case "string":
    case "number":
    case "bigint":
    case "boolean":
      return String(key)
    case "symbol":
      return key.description ?? "symbol"
    default:
      return key === null ? "null" : key === undefined ? "undefined" : "<object>"
  }
}

/** @internal */
export const makeUnsafe = () => {
  let recorded: Array<EventRecorder.Event> = []
  const pools = new Renumber()
  const jobs = new Renumber()
  const ctxs = new Renumber()
  const fds = new Renumber()
  const line = (event: EventRecorder.Event): string => {
    switch (event._tag) {
      case "Started":
      case "Paused":
      case "Resumed":
      case "CancelRequested":
        return `${event._tag} p${pools.of(event.poolId)} j${jobs.of(event.jobId)}`
      case "Ended":
        return `Ended p${pools.of(event.poolId)} j${jobs.of(event.jobId)} ${event.outcome}`
      case "NoJobs":
      case "PoolClosed":
        return `${event._tag} p${pools.of(event.poolId)}`
      case "CleanupRan":
        return `CleanupRan w${ctxs.of(event.waitCtxId)} ${describeKey(event.key)} f${fds.of(event.fd)}`
      case "WaitCtxClosed":
        return `WaitCtxClosed w${ctxs.of(event.waitCtxId)}`
    }
  }
  // lines are rendered as events arrive, so numbering follows the order of appearance
  let rendered: Array<string> = []
  const observer: JobObserver.JobObserver = {
    onEvent: (event) => {
      recorded.push(event)
      rendered.push(line(event))
    }
  }
  const lines = Effect.sync((): ReadonlyArray<string> => rendered.slice())
  const recorder: EventRecorder.EventRecorder = {
    events: Effect.sync(() => recorded.slice()),
    lines,
    takeLines: Effect.sync(() => {
      const out = rendered
      rendered = []
      recorded = []
      return out
    }),
    clear: Effect.sync(() => {
      rendered = []
      recorded = []
    }),
    eventsUnsafe: () => recorded.slice()
  }
  return { recorder, observer }
}

/** @internal */
export const layer = (
  tag: Context.Service<EventRecorder.EventRecorder, EventRecorder.EventRecorder>
): Layer.Layer<EventRecorder.EventRecorder | JobObserver.JobObserver> =>
  Layer.effectContext(Effect.sync(() => {
    const { observer, recorder } = makeUnsafe()
    return Context.make(tag, recorder).pipe(Context.add(JobObserver.JobObserver, observer))
  }))
