/**
 * Type information on hover across whole files: every TypeScript file a page includes (`<<< @/examples/first-job.ts`,
 * `<<< @/../apps/example/src/main.ts`, `<<< @/test/guide-testing.test.ts#manual`) is rendered by twoslash, as the
 * inline ` ```ts twoslash ` snippets are. The build then type-checks it too, and fails on an error.
 *
 * - The files a shown file imports by a relative path (`./stdio.js`) are given to twoslash as files of their own
 *   (`// @filename:`), hidden above `// ---cut---`, so that the import resolves as it does in the repository.
 * - An included region (`#manual`) is shown alone, but twoslash compiles the whole file: what precedes the region
 *   is hidden above `// ---cut---` and what follows it below `// ---cut-after---`.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { MarkdownRenderer } from "vitepress"

/** The extensions of included files that twoslash renders. */
const typescript = /\.(?:ts|mts|tsx)$/

const regionStart = (name: string) => new RegExp(`^\\s*//\\s*#?region ${name}\\s*$`)
const regionEnd = (name: string) => new RegExp(`^\\s*//\\s*#?endregion ${name}\\s*$`)
const anyRegionMarker = /^\s*\/\/\s*#?(?:end)?region [\w*-]+\s*$/

/** The relative imports of a TypeScript source (`from "./stdio.js"`), as the `.ts` files they name. */
const relativeImports = (file: string, source: string): Array<string> => {
  const files: Array<string> = []
  for (const match of source.matchAll(/\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g)) {
    const target = Path.resolve(Path.dirname(file), (match[1] ?? "").replace(/\.(m?)js$/, ".$1ts"))
    if (Fs.existsSync(target) && !files.includes(target)) files.push(target)
  }
  return files
}

/**
 * The source twoslash renders for an included file (or one region of it): the file itself, preceded by the files
 * it imports by a relative path, which are compiled but not shown.
 *
 * @throws when the region does not exist in the file, or a relative import leaves the file's folder
 */
export const twoslashSource = (file: string, region?: string | undefined): string => {
  const source = Fs.readFileSync(file, "utf8").replace(/\r\n/g, "\n").replace(/\n$/, "")
  const dir = Path.dirname(file)
  const imported = relativeImports(file, source)
  const hidden: Array<string> = []
  for (const other of imported) {
    const name = Path.relative(dir, other)
    if (name.startsWith("..")) throw new Error(`${file} imports ${other}, outside its folder: twoslash cannot show it`)
    hidden.push(`// @filename: ${name}`, Fs.readFileSync(other, "utf8").replace(/\r\n/g, "\n").replace(/\n$/, ""))
  }
  if (hidden.length > 0) hidden.push(`// @filename: ${Path.basename(file)}`)

  let lines = source.split("\n")
  if (region !== undefined && region !== "") {
    const start = lines.findIndex((line) => regionStart(region).test(line))
    const end = lines.findIndex((line, i) => i > start && regionEnd(region).test(line))
    if (start < 0 || end < 0) throw new Error(`${file} has no region ${region}`)
    const unmarked = (part: Array<string>) => part.filter((line) => !anyRegionMarker.test(line))
    lines = [
      ...unmarked(lines.slice(0, start)),
      "// ---cut---",
      ...unmarked(lines.slice(start + 1, end)),
      "// ---cut-after---",
      ...unmarked(lines.slice(end + 1))
    ]
  } else {
    lines = lines.filter((line) => !anyRegionMarker.test(line))
    if (hidden.length > 0) lines.unshift("// ---cut---")
  }
  return [...hidden, ...lines].join("\n") + "\n"
}

/**
 * A program's output included in a page (`<<< @/examples/first-job.output.txt`, in whatever language it is shown) is
 * marked `program-output`: the theme wraps its long lines as a terminal does, where code blocks scroll.
 */
export const programOutputPlugin = (md: MarkdownRenderer): void => {
  const fence = md.renderer.rules.fence
  if (fence === undefined) throw new Error("markdown-it has no fence rule to wrap")
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const html = fence(tokens, idx, options, env, self)
    const [file] = (tokens[idx] as unknown as SnippetToken | undefined)?.src ?? []
    return file?.endsWith(".output.txt") === true ? html.replace(/^<div class="/, "<div class=\"program-output ") : html
  }
}

interface SnippetToken {
  info: string
  content: string
  /** Set by VitePress's snippet plugin (`<<<`): the resolved path and the region's name. */
  src?: [string, string] | undefined
}

/** Wraps the fence renderer so that TypeScript files included with `<<<` are rendered by twoslash. */
export const twoslashIncludesPlugin = (md: MarkdownRenderer): void => {
  const fence = md.renderer.rules.fence
  if (fence === undefined) throw new Error("markdown-it has no fence rule to wrap")
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx] as unknown as SnippetToken | undefined
    const [file, region] = token?.src ?? []
    if (token !== undefined && file !== undefined && typescript.test(file) && Fs.existsSync(file)) {
      const includes = (env as { includes?: Array<string> }).includes
      includes?.push(file, ...relativeImports(file, Fs.readFileSync(file, "utf8")))
      token.content = twoslashSource(file, region)
      token.info = /\btwoslash\b/.test(token.info) ? token.info : `${token.info.trimEnd()} twoslash`
      token.src = undefined
    }
    return fence(tokens, idx, options, env, self)
  }
}
