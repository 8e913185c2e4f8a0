/**
 * Mermaid diagrams rendered to inline SVG at build time (no JavaScript in the browser, no network).
 *
 * A fenced block with the language `mermaid` is rendered by `beautiful-mermaid`, which lays out synchronously in
 * Node. Its colours are CSS variables bound to the VitePress theme, so light and dark mode both work. The SVG's own
 * `<style>` element (which Vue would drop from the page template, and which imports a web font) is replaced by the
 * same custom properties set inline on the `<svg>` element.
 */
import { renderMermaidSVG } from "beautiful-mermaid"
import type { MarkdownRenderer } from "vitepress"

const theme = {
  bg: "var(--vp-c-bg)",
  fg: "var(--vp-c-text-1)",
  accent: "var(--vp-c-brand-1)",
  surface: "var(--vp-c-bg-soft)",
  border: "var(--vp-c-divider)",
  transparent: true
}

const styleElement = /<style>([\s\S]*?)<\/style>\s*/

/** Moves the custom properties of the SVG's `svg { ... }` rule onto the element, and drops the `<style>`. */
const inlineStyle = (svg: string): string => {
  const match = styleElement.exec(svg)
  if (match === null) return svg
  const css = match[1] ?? ""
  const rule = /(?:^|\n)\s*svg\s*\{([\s\S]*?)\}/.exec(css)
  const declarations = (rule?.[1] ?? "")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split(";")
    .map((d) => d.trim())
    .filter((d) => d.startsWith("--"))
  const rest = css
    .replace(/(?:^|\n)\s*svg\s*\{[\s\S]*?\}/, "")
    .replace(/@import\s+url\([^)]*\)[^;\n]*;/g, "")
    .replace(/text\s*\{[^}]*\}/, "")
    .trim()
  if (rest !== "") throw new Error(`beautiful-mermaid emitted CSS this plugin does not know how to inline: ${rest}`)
  const withoutStyle = svg.replace(styleElement, "")
  return withoutStyle.replace(/<svg([^>]*?)style="([^"]*)"/, (_, attrs: string, style: string) => {
    const merged = [style.replace(/;$/, ""), ...declarations].filter((s) => s !== "").join(";")
    return `<svg${attrs}style="${merged}"`
  })
}

/** Renders one Mermaid source to the HTML placed in the page. Throws (failing the build) on a syntax error. */
export const renderDiagram = (source: string): string => {
  const svg = inlineStyle(renderMermaidSVG(source, theme))
  return `<figure class="diagram" v-pre>${svg}</figure>\n`
}

/** The markdown-it plugin: ```mermaid fences become inline SVG. */
export const mermaidPlugin = (md: MarkdownRenderer): void => {
  const fence = md.renderer.rules.fence
  if (fence === undefined) throw new Error("markdown-it has no fence rule to wrap")
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx]
    if (token !== undefined && token.info.trim() === "mermaid") return renderDiagram(token.content)
    return fence(tokens, idx, options, env, self)
  }
}
