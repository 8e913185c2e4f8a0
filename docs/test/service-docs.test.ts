/**
 * The offload service's error list and settings table have one source each, shown both in the repository's README
 * and in the service's guide: `apps/offload-service/errors.md` (held here to the statuses the service's `HttpApi`
 * declares, `statusOf` in `src/http/api.ts`) and `apps/offload-service/settings.md` (generated from
 * `src/config.ts`; the service's own test holds it to the configuration and to the README).
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual } from "@effect/vitest/utils"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const read = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8")

/** `Tag: status` pairs, sorted, from the `statusOf` record of the service's API. */
const declared = (): Array<string> => {
  const source = read("apps/offload-service/src/http/api.ts")
  const start = source.indexOf("export const statusOf")
  const body = source.slice(start, source.indexOf("\n}", start))
  return Array.from(body.matchAll(/^\s+(\w+): (\d{3}),?$/gm), (m) => `${m[1]}: ${m[2]}`).sort()
}

/** `Tag: status` pairs, sorted, from the rows of errors.md. */
const listed = (): Array<string> =>
  Array.from(read("apps/offload-service/errors.md").matchAll(/^\| (\d{3}) \| `(\w+)` \|/gm), (m) => `${m[2]}: ${m[1]}`)
    .sort()

describe("the offload service's errors and settings in the docs", () => {
  it("errors.md lists exactly the errors the API declares, each with its status", () => {
    const fromApi = declared()
    assertTrue(fromApi.length > 10, "statusOf was found in api.ts")
    deepStrictEqual(listed(), fromApi)
  })

  it("the README carries errors.md verbatim", () => {
    assertTrue(read("README.md").includes(read("apps/offload-service/errors.md")))
  })

  it("the service's guide includes errors.md and settings.md rather than a copy", () => {
    const guide = read("docs/guides/offload-service.md")
    assertTrue(guide.includes("<!--@include: ../../apps/offload-service/errors.md-->"))
    assertTrue(guide.includes("<!--@include: ../../apps/offload-service/settings.md-->"))
    assertTrue(!guide.includes("| `MalformedJson` |"), "no copied error row")
    assertTrue(!guide.includes("| `POOL_MAX` |"), "no copied settings row")
  })
})
