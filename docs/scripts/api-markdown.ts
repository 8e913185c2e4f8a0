/**
 * Post-processing of the markdown that typedoc-plugin-markdown writes (used by gen-api.ts, tested in test/).
 */

/**
 * The TypeScript blocks of the `@example` sections become twoslash blocks: the build type-checks them against the
 * workspace packages (and fails on an error), and readers can hover their names.
 */
export const compileExamples = (markdown: string): string => {
  let inExample = false
  return markdown.split("\n").map((line) => {
    const heading = /^#{2,6} (.+?)(?: \{#[^}]*\})?\s*$/.exec(line)
    if (heading !== null) inExample = /^Examples?$/.test(heading[1] ?? "")
    return inExample && /^```(ts|typescript)\s*$/.test(line) ? "```ts twoslash" : line
  }).join("\n")
}

/** The names in a page's headings, unescaped: "### ASYNC\\_ERR {#async_err}" gives "ASYNC_ERR". */
export const headingsOf = (markdown: string): Set<string> =>
  new Set(
    [...markdown.matchAll(/^#{2,6} (.+)$/gm)].map((m) =>
      (m[1] ?? "").replace(/\s*\{#[^}]*\}\s*$/, "").replace(/\(\)$/, "").replace(/\\(.)/g, "$1").trim()
    )
  )

/**
 * A page's introduction: the text between its title and its first heading (a module's opening doc comment, up to
 * its `@example` or `@since`), trimmed; "" when the page opens on a heading.
 */
export const introductionOf = (markdown: string): string => {
  const lines = markdown.split("\n")
  const title = lines.findIndex((line) => /^# /.test(line))
  const rest = lines.slice(title + 1)
  const end = rest.findIndex((line) => /^#{1,6} /.test(line))
  return (end < 0 ? rest : rest.slice(0, end)).join("\n").trim()
}
