/**
 * The node `http.Server` of the service: node's own limits from the
 * `ServiceConfig`, and node's `clientError` answered as typed JSON.
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Api from "./api.js"
import type { ServiceConfig } from "../config.js"

/** A whole HTTP response, the error in the API's format, for node's `clientError` (no response object there). */
const rawResponse = <E, I>(status: number, reason: string, wire: Schema.Codec<E, I>, error: E) => {
  const json = JSON.stringify(Schema.encodeSync(wire)(error))
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${
    Buffer.byteLength(json)
  }\r\nconnection: close\r\n\r\n${json}`
}

/** What node refuses before (or instead of) a request, in the API's error format. */
const clientErrorResponse = (error: NodeJS.ErrnoException, config: ServiceConfig) => {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return rawResponse(
        408,
        "Request Timeout",
        Api.Wire.RequestTimeout,
        new Api.RequestTimeout({ message: "the request did not arrive in time" })
      )
    case "HPE_HEADER_OVERFLOW":
      return rawResponse(
        431,
        "Request Header Fields Too Large",
        Api.Wire.HeadersTooLarge,
        new Api.HeadersTooLarge({ message: `the request line and headers exceed ${config.maxHeaderBytes} bytes` })
      )
    default:
      return rawResponse(
        400,
        "Bad Request",
        Api.Wire.MalformedHttp,
        new Api.MalformedHttp({ message: "the request is not valid HTTP/1.1" })
      )
  }
}

/**
 * node's `http.Server` with the configured limits and timeouts, answering
 * what node refuses by itself in the API's error format.
 */
export const make = (config: ServiceConfig): Http.Server => {
  const headersTimeout = Duration.toMillis(config.headersTimeout)
  const requestTimeout = Duration.toMillis(config.requestTimeout)
  const server = Http.createServer({
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: Duration.toMillis(config.idleTimeout),
    // how often node looks for requests past their timeouts
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4)))
  })
  server.maxConnections = config.maxConnections
  // the response in progress on each connection, to know whether a raw answer may still be written
  const responses = new WeakMap<Net.Socket, Http.ServerResponse>()
  server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    responses.set(request.socket, response)
  })
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Net.Socket) => {
    const response = responses.get(socket)
    if (error.code === "ECONNRESET" || !socket.writable || response?.headersSent === true) {
      socket.destroy()
      return
    }
    socket.end(clientErrorResponse(error, config), () => socket.destroy())
  })
  return server
}
