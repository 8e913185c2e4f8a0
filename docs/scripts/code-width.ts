/**
 * The width of the site's code column, and the formatter that fits TypeScript to it.
 *
 * At a 1280 px wide window the docs' code column is 624 px: 68 columns of its 14 px monospace after the block's
 * padding (`eslint.config.mjs` formats the files the pages include to that width; `scripts/test-docs.ts` fails on
 * any code block that scrolls sideways). The API reference's signatures are written by TypeDoc on one line;
 * `fitSignatures` formats those wider than the column with dprint, as the lint formats the sources.
 */
import { createFromBuffer } from "@dprint/formatter"
import { getPath } from "@dprint/typescript"
import * as Fs from "node:fs"

/** The columns of the docs' code column at a 1280 px wide window. */
export const codeColumns = 68

const formatter = createFromBuffer(Fs.readFileSync(getPath()))
formatter.setConfig({ indentWidth: 2, lineWidth: codeColumns }, {
  // as TypeDoc writes them
  semiColons: "always",
  quoteStyle: "alwaysDouble",
  trailingCommas: "never",
  operatorPosition: "maintain",
  "arrowFunction.useParentheses": "force"
})

/** A declaration TypeDoc writes, as dprint can parse it: a `const`/`function` with no body is declared. */
const declarable = /^(?:const|let|function|class|interface|type|enum|abstract class)\b/

/**
 * A signature block's code formatted to the code column: each declaration (`function f(a, b?): T;`,
 * `const x: T;`, `type T = …;`) is parsed as an ambient one and printed back without `declare`. Code dprint cannot
 * parse is left as it is (the browser test reports it if it is too wide).
 */
export const fitDeclarations = (code: string): string => {
  if (code.split("\n").every((line) => line.length <= codeColumns)) return code
  const lines = code.split("\n")
  if (!declarable.test(lines[0] ?? "")) return code
  const declared = lines.map((line) => (declarable.test(line) ? `declare ${line}` : line)).join("\n")
  let formatted: string
  try {
    formatted = formatter.formatText({ filePath: "signature.d.ts", fileText: declared })
  } catch {
    return code
  }
  return formatted.replace(/^declare /gm, "").replace(/\n$/, "")
}

/**
 * The markdown of an API page with its `ts` code blocks that are not examples (the signatures TypeDoc writes)
 * fitted to the code column. Examples (`ts twoslash`, see `compileExamples`) come from the doc comments, which are
 * formatted to that width in the sources.
 */
export const fitSignatures = (markdown: string): string =>
  markdown.replace(/^```ts\n([\s\S]*?)\n```$/gm, (block, code: string) => {
    const fitted = fitDeclarations(code)
    return fitted === code ? block : "```ts\n" + fitted + "\n```"
  })
