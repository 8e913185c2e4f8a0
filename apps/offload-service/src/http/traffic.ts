/**
 * What the HTTP layer holds at once, and its bounds: open connections
 * (`MAX_CONNECTIONS` served, those beyond it answered 503 and closed, probes
 * within a budget of their own) and request body bytes received and not yet
 * released (`MAX_BUFFERED_BYTES`). `server.ts` counts the connections; the
 * middleware reads which ones are over the cap; the `POST /jobs` handler
 * reserves body bytes as they arrive.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Net from "node:net"
import { ServiceConfig } from "../config.js"

/** Probe requests (`/healthz`, `/readyz`) answered at once on connections beyond the cap. */
export const probeBudget = 8

export interface Traffic {
  /** Connections open now, over-cap ones included. */
  readonly connections: () => number
  /** Whether a connection was accepted beyond `MAX_CONNECTIONS` (its requests answer 503, probes aside). */
  readonly isOverCap: (socket: Net.Socket) => boolean
  /** Takes one of the probe budget for a probe on an over-cap connection; `false` when none is left. */
  readonly takeProbe: () => boolean
  readonly releaseProbe: () => void
  /** Reserves body bytes just received; `false` (nothing reserved) when `MAX_BUFFERED_BYTES` would be passed. */
  readonly reserve: (bytes: number) => boolean
  readonly release: (bytes: number) => void
  /** Body bytes received and held now. */
  readonly buffered: () => number
  /** To be called with every connection the server accepts. */
  readonly onConnection: (socket: Net.Socket) => void
}

export const Traffic: Context.Service<Traffic, Traffic> = Context.Service<Traffic>(
  "@async-job/offload-service/Traffic"
)

/** The counters, bound to a body byte budget; `onConnection` is wired to the server's `connection` event. */
export const make = (options: { readonly maxConnections: number; readonly maxBufferedBytes: number }): Traffic => {
  let open = 0
  let buffered = 0
  let probes = 0
  const overCap = new WeakSet<Net.Socket>()
  return {
    connections: () => open,
    isOverCap: (socket) => overCap.has(socket),
    takeProbe: () => {
      if (probes >= probeBudget) return false
      probes++
      return true
    },
    releaseProbe: () => {
      probes--
    },
    reserve: (bytes) => {
      if (buffered + bytes > options.maxBufferedBytes) return false
      buffered += bytes
      return true
    },
    release: (bytes) => {
      buffered -= bytes
    },
    buffered: () => buffered,
    onConnection: (socket) => {
      open++
      if (open > options.maxConnections) {
        overCap.add(socket)
        // an over-cap connection gets one answer: it may not sit idle on a file descriptor
        socket.setTimeout(2000, () => socket.destroy())
      }
      socket.once("close", () => {
        open--
      })
    }
  }
}

/** The counters for the configured bounds. */
export const layer: Layer.Layer<Traffic, never, ServiceConfig> = Layer.effect(Traffic, Effect.map(ServiceConfig, make))
