/**
 * What the service checks of a request before `HttpApi` decodes it: its
 * media type, how deep its JSON nests, and which methods its path takes.
 */
import * as HttpApi from "effect/http-api/HttpApi"
import * as Api from "./api.js"

/**
 * A JSON media type: `application/json`, or `application/<x>+json`, with parameters.
 */
export const isJson = (contentType: string) => /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType.trim())

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
