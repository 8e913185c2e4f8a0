/**
 * `loadgen --compare`: the same load against the service with its worker
 * thread engine and with `ENGINE=inline`, one after the other, each on a
 * fresh process and a free loopback port.
 */
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Load from "./Load.js"
import * as Pin from "./Pin.js"
import * as Service from "./Service.js"

/**
 * The engines compared, in the order they run, with the environment each needs.
 */
export const engines = [
  { label: "threads", env: { ENGINE: undefined } },
  { label: "inline", env: { ENGINE: "inline" } }
] as const

export interface Row {
  readonly label: string
  readonly url: string
  readonly pid: number
  readonly report: Load.Report
}

export interface Options extends Omit<Load.Options, "url" | "onProgress"> {
  /** The service entry; default {@link Service.defaultEntry}. */
  readonly entry?: string | undefined
  /**
   * A `Pinned` plan runs each service on its CPUs and the client in a process
   * of its own on its CPUs ({@link Pin.runClient}); default: the client in
   * this process, nothing pinned.
   */
  readonly pin?: Pin.Plan | undefined
  /** Wraps each run, e.g. to draw a progress bar. */
  readonly around?:
    | (<A, E, R>(
      label: string,
      total: number,
      run: (onProgress: (done: number) => void) => Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E, R>)
    | undefined
}

/**
 * Runs the load against each of {@link engines} in turn. Each service is
 * stopped (and its exit awaited) before the next one starts.
 */
export const run = (
  options: Options
): Effect.Effect<ReadonlyArray<Row>, Service.ServiceStartError | Pin.ClientError, HttpClient.HttpClient> =>
  Effect.forEach(engines, ({ env, label }) =>
    Effect.scoped(Effect.gen(function*() {
      const pin = options.pin?._tag === "Pinned" ? options.pin : undefined
      const service = yield* Service.start({ entry: options.entry, env, cpus: pin?.service })
      const load = (onProgress: (done: number) => void) => {
        const load = { ...options, url: service.url, onProgress }
        return pin === undefined ? Load.run(load) : Pin.runClient(load, pin.client)
      }
      const report =
        yield* (options.around === undefined ? load(() => {}) : options.around(label, options.requests, load))
      return { label, url: service.url, pid: service.pid, report }
    })))
