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

/** Runs `effect` until `until` holds of its value (every 20 ms), and answers that value. */
export const pollUntil = <A>(effect: Effect.Effect<A>, until: (a: A) => boolean): Effect.Effect<A> =>
  Effect.flatMap(
    effect,
    (a) => until(a) ? Effect.succeed(a) : Effect.delay(Effect.suspend(() => pollUntil(effect, until)), "20 millis")
  )

/** Whether a TCP connection to host:port is refused. */
export const connectionRefused = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
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

export interface RawReply {
  /** the status code of the first response, or undefined when the connection closed without one */
  readonly status: number | undefined
  readonly headers: Record<string, string>
  /** the body parsed as JSON, or undefined */
  readonly body: any
  readonly text: string
}

export const parseRaw = (text: string): RawReply => {
  const end = text.indexOf("\r\n\r\n")
  if (!text.startsWith("HTTP/1.1 ") || end < 0) return { status: undefined, headers: {}, body: undefined, text }
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body: unknown = undefined
  try {
    body = JSON.parse(text.slice(end + 4))
  } catch {
    // not JSON
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, body, text }
}

/**
 * Opens a TCP connection, writes `data` (and, unless `keepOpen`, nothing
 * more), and answers what came back once the server closed the connection.
 * The socket is destroyed if the effect is interrupted.
 */
export const raw = (host: string, port: number, data: string | Uint8Array): Effect.Effect<RawReply> =>
  Effect.callback<RawReply>((resume) => {
    const chunks: Array<Buffer> = []
    const socket = Net.connect({ host, port }, () => socket.write(data))
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", () => {})
    socket.once("close", () => resume(Effect.succeed(parseRaw(Buffer.concat(chunks).toString("utf8")))))
    return Effect.sync(() => socket.destroy())
  })

/** Writes `data` on an open connection and answers what came back once the server closed it. */
export const ask = (socket: Net.Socket, data: string): Effect.Effect<RawReply> =>
  Effect.callback<RawReply>((resume) => {
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.once("close", () => resume(Effect.succeed(parseRaw(Buffer.concat(chunks).toString("utf8")))))
    socket.write(data)
  })

/** An open TCP connection that has written `data`; destroyed when the scope closes. */
export const openConnection = (host: string, port: number, data: string) =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket>((resume) => {
      const socket = Net.connect({ host, port }, () => socket.write(data, () => resume(Effect.succeed(socket))))
      socket.on("error", () => {})
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )
