/**
 * The summary of a doc comment, for a twoslash popup: its text up to the first section heading (a line in bold, as
 * effect's `**Example** (…)`) or code block. The sections that follow would repeat in the page at every occurrence
 * of the name (and make every page that hovers an effect name several times heavier to build and to load).
 */
export const hoverSummary = (docs: string): string => {
  const lines = docs.split("\n")
  const end = lines.findIndex((line) => /^\s*(?:\*\*[^*]+\*\*|```)/.test(line))
  return (end < 0 ? lines : lines.slice(0, end)).join("\n").trim()
}
