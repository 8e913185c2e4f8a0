/**
 * The build-time pieces of the site that are plain functions: diagrams and the API reference's post-processing.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual, throws } from "@effect/vitest/utils"
import { renderDiagram } from "../.vitepress/diagrams.js"
import { compileExamples, headingsOf } from "../scripts/api-markdown.js"

describe("diagrams", () => {
  it("renders Mermaid to inline SVG that needs no stylesheet and no network", () => {
    const html = renderDiagram("graph LR\n  A[start] --> B[pause]\n")
    assertTrue(html.startsWith("<figure class=\"diagram\" v-pre><svg"))
    assertFalse(html.includes("<style"))
    assertFalse(html.includes("@import"))
    assertFalse(/https?:\/\/(?!www\.w3\.org)/.test(html))
    // The colours follow the VitePress theme, light or dark.
    assertTrue(html.includes("--bg:var(--vp-c-bg)"))
    assertTrue(html.includes("--_line:"))
    assertTrue(html.includes(">start<") && html.includes(">pause<"))
  })

  it("fails on a diagram it cannot read, so the build fails", () => {
    throws(() => renderDiagram("this is not mermaid"))
  })
})

describe("API reference markdown", () => {
  it("reads export names from headings, unescaped and without anchors", () => {
    const markdown = [
      "# Async {#page-title}",
      "## functions",
      "### ASYNC\\_start\\_job() {#async_start_job}",
      "### make",
      "#### Since"
    ].join("\n")
    deepStrictEqual([...headingsOf(markdown)], ["functions", "ASYNC_start_job", "make", "Since"])
  })

  it("turns only the TypeScript blocks of example sections into twoslash blocks", () => {
    const markdown = [
      "### make {#make}",
      "```ts",
      "const make: Effect<JobPool>",
      "```",
      "#### Example",
      "```ts",
      "const pool = yield* make",
      "```",
      "```bash",
      "pnpm test",
      "```",
      "#### Since",
      "```ts",
      "```"
    ].join("\n")
    const lines = compileExamples(markdown).split("\n")
    strictEqual(lines[1], "```ts")
    strictEqual(lines[5], "```ts twoslash")
    strictEqual(lines[8], "```bash")
    strictEqual(lines[12], "```ts")
  })
})
