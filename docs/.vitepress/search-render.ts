/**
 * The local search index without a second compilation of every code block.
 *
 * VitePress builds the search index by rendering every page again with the site's markdown renderer, which would run
 * twoslash, Shiki and the diagrams on every code block a second time (half the build's time). The index needs the
 * text only: `searchRender` renders a page for the index with a flag in its markdown environment, and
 * `plainFencesForSearch` (the outermost fence rule) then renders each code block as the plain text a reader sees in
 * it: an included file read from disk, twoslash's hidden lines and notations left out, a diagram left out.
 */
import * as Fs from "node:fs"
import type { MarkdownRenderer } from "vitepress"

interface SearchEnv {
  /** Set by `searchRender`: this render feeds the search index. */
  searchIndex?: boolean
}

const escapeHtml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const regionMarker = /^\s*\/\/\s*#?(?:end)?region\b/

/** The lines of a code block a reader sees: not those twoslash hides (`---cut---`), nor its notations. */
export const visibleCode = (code: string): string => {
  let lines = code.split("\n")
  const cutMarker = /^\s*\/\/\s*---cut(?:-before)?---\s*$/
  const fromEnd = [...lines].reverse().findIndex((line) => cutMarker.test(line))
  if (fromEnd >= 0) lines = lines.slice(lines.length - fromEnd)
  const cutAfter = lines.findIndex((line) => /^\s*\/\/\s*---cut-after---\s*$/.test(line))
  if (cutAfter >= 0) lines = lines.slice(0, cutAfter)
  return lines
    .filter((line) => !/^\s*\/\/\s*\^[?|!]/.test(line) && !/^\s*\/\/\s*@\w+/.test(line) && !regionMarker.test(line))
    .join("\n")
}

/** The text of an included file, or of one region of it (`<<< @/file.ts#name`). */
const includedText = (file: string, region: string | undefined): string => {
  if (!Fs.existsSync(file) || !Fs.statSync(file).isFile()) return ""
  const lines = Fs.readFileSync(file, "utf8").replace(/\r\n/g, "\n").split("\n")
  if (region === undefined || region === "") return lines.join("\n")
  const start = lines.findIndex((line) => new RegExp(`^\\s*//\\s*#?region ${region}\\s*$`).test(line))
  const end = lines.findIndex((line, i) => i > start && new RegExp(`^\\s*//\\s*#?endregion ${region}\\s*$`).test(line))
  return start < 0 || end < 0 ? "" : lines.slice(start + 1, end).join("\n")
}

/** The outermost fence rule: for the search index, a code block is its visible text, unhighlighted. */
export const plainFencesForSearch = (md: MarkdownRenderer): void => {
  const fence = md.renderer.rules.fence
  if (fence === undefined) throw new Error("markdown-it has no fence rule to wrap")
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx]
    if (token === undefined || (env as SearchEnv).searchIndex !== true) return fence(tokens, idx, options, env, self)
    if (token.info.trim() === "mermaid") return ""
    const [file, region] = (token as { src?: [string, string] }).src ?? []
    const code = file === undefined ? token.content : includedText(file, region)
    return `<pre><code>${escapeHtml(visibleCode(code))}</code></pre>\n`
  }
}

/** The search plugin's `_render`: a page rendered for the index, its code blocks as plain text. */
export const searchRender = (src: string, env: object, md: { render: (src: string, env: object) => string }) => {
  const searchEnv: SearchEnv & { frontmatter?: { search?: boolean } } = Object.assign(env, { searchIndex: true })
  const html = md.render(src, searchEnv)
  return searchEnv.frontmatter?.search === false ? "" : html
}
