/**
 * A small HTTP client for the service tests (fetch), and connection probes.
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** the body parsed as JSON, or undefined when it is not JSON */
  readonly body: any
}

export const call = (
  base: string,
  method: string,
  path: string,
  body?: string | Uint8Array | object
): Effect.Effect<Reply> =>
  Effect.promise(async (signal) => {
    const init: RequestInit = { method, signal }
    if (body !== undefined) {
      init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body)
      init.headers = { "content-type": "application/json" }
    }
    const response = await fetch(new URL(path, base), init)
    const text = await response.text()
    let parsed: unknown = undefined
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, text, body: parsed }
  })

export const finalStates = ["finished", "failed", "cancelled"]

/** Polls GET /jobs/:id until the job has ended (no timing assumed: it polls until then). */
export const awaitEnded = (base: string, id: string): Effect.Effect<Reply> =>
  Effect.flatMap(
    call(base, "GET", `/jobs/${id}`),
    (reply) =>
      reply.status !== 200 || finalStates.includes(reply.body.state)
        ? Effect.succeed(reply)
        : Effect.delay(Effect.suspend(() => awaitEnded(base, id)), "10 millis")
  )

/** Whether a TCP connection to host:port is refused. */
export const connectionRefused = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code === "ECONNREFUSED")))
  })

/** The keys of an error body, and its tag. */
export const errorShape = (reply: Reply) => ({
  keys: reply.body === undefined ? [] : Object.keys(reply.body),
  errorKeys: reply.body?.error === undefined ? [] : Object.keys(reply.body.error).filter((key) => key !== "issues"),
  tag: reply.body?.error?.tag as string | undefined,
  hasMessage: typeof reply.body?.error?.message === "string" && reply.body.error.message.length > 0
})
