/**
 * What the service checks of a request before `HttpApi` decodes it: its
 * media type, how deep its JSON nests, and which methods its path takes.
 */
import * as HttpApi from "effect/http-api/HttpApi"
import * as Api from "./api.js"

/**
 * The media type of a `Content-Type` header as the platform reads it when it
 * picks an endpoint's payload decoder: lowercased, its parameters dropped.
 */
const mediaType = (contentType: string): string => {
  const normalized = contentType.toLowerCase().trim()
  const index = normalized.indexOf(";")
  return index === -1 ? normalized : normalized.slice(0, index).trim()
}

/** The media types `POST /jobs` declares for its payload in the {@link Api.Api} (its JSON body: `application/json`). */
const submitTypes: ReadonlySet<string> = new Set(Api.JobsGroup.endpoints.submit.payload.keys())

/**
 * Whether a `Content-Type` is one `POST /jobs` takes: the platform's rule, the
 * media types its payload is declared with, and nothing else (no
 * `application/<x>+json`).
 */
export const isJson = (contentType: string): boolean => submitTypes.has(mediaType(contentType))

/**
 * How deep a request body may nest arrays and objects (a request is one object of strings and numbers).
 */
export const maxDepth = 32

/**
 * Whether JSON text nests arrays and objects at most `max` deep: a scan of
 * the text, before Schema sees the value (whose messages format it
 * recursively, and would overflow the stack on a very deep one).
 */
export const nestedAtMost = (text: string, max: number) => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return true
}

/** The methods each route pattern of the {@link Api.Api} takes (and `/`, `/docs`, `/docs/ui`). */
const routes: ReadonlyArray<{ readonly pattern: RegExp; readonly methods: ReadonlyArray<string> }> = (() => {
  const byPath = new Map<string, Set<string>>([["/", new Set(["GET"])], ["/docs", new Set(["GET"])], [
    "/docs/ui",
    new Set(["GET"])
  ]])
  HttpApi.reflect(Api.Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      const methods = byPath.get(endpoint.path) ?? new Set<string>()
      methods.add(endpoint.method)
      byPath.set(endpoint.path, methods)
    }
  })
  return Array.from(byPath, ([path, methods]) => ({
    pattern: new RegExp(`^${path.replace(/:[^/]+/g, "[^/]+")}$`),
    methods: Array.from(methods)
  }))
})()

/**
 * The methods a request URL's path takes, or `undefined` when no route has that path (for 405 and `Allow`).
 */
export const allowedMethods = (url: string): ReadonlyArray<string> | undefined => {
  const path = url.split("?")[0]!
  return routes.find((route) => route.pattern.test(path))?.methods
}
