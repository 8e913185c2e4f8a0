import { transformerTwoslash } from "@shikijs/vitepress-twoslash"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { defineConfig } from "vitepress"
import { twoslashTypesCache } from "./build-cache.js"
import { mermaidPlugin } from "./diagrams.js"
import { hoverSummary } from "./hover-summary.js"
import { plainFencesForSearch, searchRender } from "./search-render.js"
import { sidebar } from "./sidebar.js"
import { programOutputPlugin, twoslashIncludesPlugin } from "./twoslash-includes.js"

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const packagesDir = Path.resolve(docsDir, "..", "packages")

/**
 * Twoslash resolves every workspace package from its sources (`@async-job/core/JobPool` →
 * packages/core/src/JobPool.ts), whether or not docs/package.json depends on it.
 */
const workspacePaths = (): Record<string, Array<string>> => {
  const paths: Record<string, Array<string>> = {}
  for (const dir of Fs.existsSync(packagesDir) ? Fs.readdirSync(packagesDir) : []) {
    const pkgJson = Path.join(packagesDir, dir, "package.json")
    if (!Fs.existsSync(pkgJson)) continue
    const name = (JSON.parse(Fs.readFileSync(pkgJson, "utf8")) as { readonly name?: string }).name
    if (name === undefined) continue
    paths[name] = [Path.join(packagesDir, dir, "src", "index.ts")]
    paths[`${name}/*`] = [Path.join(packagesDir, dir, "src", "*.ts")]
  }
  return paths
}

export default defineConfig({
  title: "async-job",
  description: "OpenSSL's ASYNC job API, rebuilt Effect-native in TypeScript",
  lang: "en-US",
  cleanUrls: true,
  lastUpdated: false,
  // Links to a page that does not exist fail the build (the default); localhost links are for the service guide.
  ignoreDeadLinks: "localhostLinks",
  srcExclude: ["**/README.md", "examples/**", "test/**", "scripts/**"],
  head: [["link", { rel: "icon", href: "/logo.svg", type: "image/svg+xml" }]],
  markdown: {
    theme: { light: "github-light", dark: "github-dark" },
    codeTransformers: [
      transformerTwoslash({
        // A snippet that does not type-check fails `vitepress build` (always, not only on CI).
        throws: true,
        // Results kept across builds while nothing they compile against changed (build-cache.ts).
        typesCache: twoslashTypesCache(),
        // A popup shows a name's type and the summary of its doc comment: not the examples and sections that
        // follow (effect's `**Example**`, `**Details**`, …), which would repeat in the page at every occurrence.
        processHoverDocs: hoverSummary,
        twoslashOptions: {
          // Resolve imports from docs/, where the workspace packages are linked.
          vfsRoot: docsDir,
          compilerOptions: {
            target: ts.ScriptTarget.ES2022,
            module: ts.ModuleKind.ESNext,
            moduleResolution: ts.ModuleResolutionKind.Bundler,
            strict: true,
            exactOptionalPropertyTypes: true,
            skipLibCheck: true,
            types: ["node"],
            paths: workspacePaths()
          }
        }
      })
    ],
    config: (md) => {
      md.use(mermaidPlugin)
      // Files included with `<<<` get twoslash as inline snippets do: hover types, and type errors fail the build.
      md.use(twoslashIncludesPlugin)
      // A program's output wraps as in a terminal (theme/style.css).
      md.use(programOutputPlugin)
      // Last, so outermost: the search index gets code blocks as plain text, without a second compilation.
      md.use(plainFencesForSearch)
    }
  },
  themeConfig: {
    logo: "/logo.svg",
    nav: [
      { text: "Guide", link: "/getting-started" },
      { text: "Concepts", link: "/concepts/" },
      { text: "API", link: "/api/" },
      { text: "Benchmarks", link: "/benchmarks" }
    ],
    sidebar: sidebar(),
    search: { provider: "local", options: { _render: searchRender } },
    outline: { level: [2, 3] },
    footer: { message: "Released under the MIT License." }
  }
})
