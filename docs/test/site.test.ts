/**
 * The build-time pieces of the site that are plain functions: diagrams and the API reference's post-processing.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual, throws } from "@effect/vitest/utils"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { renderDiagram } from "../.vitepress/diagrams.js"
import { concepts, guides, sidebarLinks } from "../.vitepress/sidebar.js"
import { compileExamples, headingsOf, introductionOf } from "../scripts/api-markdown.js"

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

  it("reads a page's introduction: the text between its title and its first heading", () => {
    const intro = introductionOf([
      "# JobPool {#page-title}",
      "",
      "The job pool: OpenSSL's per-thread pool of ASYNC jobs, as a service.",
      "",
      "## Example",
      "```ts twoslash",
      "```",
      "## type ids"
    ].join("\n"))
    strictEqual(intro, "The job pool: OpenSSL's per-thread pool of ASYNC jobs, as a service.")
    strictEqual(introductionOf("# AsyncJob {#page-title}\n\n## combinators\n\n### pause {#pause}\n\nPauses."), "")
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

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** The hand-written pages (not the generated reference, not this package's README). */
const pages = (dir = docsDir): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = Path.join(dir, entry.name)
    if (entry.isDirectory()) {
      return ["node_modules", "generated", ".vitepress", "examples", "test", "scripts"].includes(entry.name)
        ? []
        : pages(full)
    }
    return entry.name.endsWith(".md") && full !== Path.join(docsDir, "README.md") ? [full] : []
  })

describe("pages", () => {
  it("every page of the sidebar outside the generated reference is a markdown file", () => {
    const links = sidebarLinks().filter((link) => !link.startsWith("/api/generated/"))
    assertTrue(links.length >= 2 + concepts.length + guides.length + 2)
    for (const link of links) {
      const file = Path.join(docsDir, link.endsWith("/") ? `${link}index.md` : `${link}.md`)
      assertTrue(Fs.existsSync(file), `${link} has no page ${file}`)
    }
  })

  it("holds no TypeScript or JavaScript block that the build does not compile", () => {
    const uncompiled: Array<string> = []
    for (const file of pages()) {
      const lines = Fs.readFileSync(file, "utf8").split("\n")
      lines.forEach((line, i) => {
        const fence = /^\s*```+\s*(ts|typescript|js|javascript|tsx)\b(.*)$/.exec(line)
        if (fence !== null && !/\btwoslash\b/.test(fence[2] ?? "")) {
          uncompiled.push(`${Path.relative(docsDir, file)}:${i + 1}`)
        }
      })
    }
    deepStrictEqual(uncompiled, [])
  })
})
