/**
 * The build-time pieces of the site that are plain functions: diagrams, the API reference's post-processing, whole
 * files rendered by twoslash, the build's caches and search text, the benchmark charts and the Benchmarks page's data.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual, throws } from "@effect/vitest/utils"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { charts, chartsDocument, formatRatio, formatValue, minFontSize } from "../../bench/src/chart.js"
import { meaningOf, parse } from "../.vitepress/bench-results.js"
import { inputsDigest, twoslashTypesCache } from "../.vitepress/build-cache.js"
import { renderDiagram } from "../.vitepress/diagrams.js"
import { hoverSummary } from "../.vitepress/hover-summary.js"
import { visibleCode } from "../.vitepress/search-render.js"
import { concepts, guides, sidebarLinks } from "../.vitepress/sidebar.js"
import { twoslashSource } from "../.vitepress/twoslash-includes.js"
import { compileExamples, headingsOf, introductionOf } from "../scripts/api-markdown.js"
import { codeColumns, fitDeclarations, fitSignatures } from "../scripts/code-width.js"

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

describe("whole files with twoslash", () => {
  const appDir = Path.join(docsDir, "..", "apps", "example", "src")

  it("compiles a file's relative imports as hidden files of their own, and shows the file alone", () => {
    const source = twoslashSource(Path.join(appDir, "main.ts"))
    const lines = source.split("\n")
    strictEqual(lines[0], "// @filename: stdio.ts")
    const cut = lines.indexOf("// ---cut---")
    strictEqual(lines[cut - 1], "// @filename: main.ts")
    assertTrue(
      lines.slice(cut + 1).join("\n").startsWith(Fs.readFileSync(Path.join(appDir, "main.ts"), "utf8").split("\n")[0]!)
    )
    assertTrue(source.includes("export const printf"), "stdio.ts is compiled along")
  })

  it("leaves a file without relative imports as it is", () => {
    const file = Path.join(docsDir, "examples", "first-job.ts")
    strictEqual(twoslashSource(file), Fs.readFileSync(file, "utf8"))
  })

  it("shows one region of a file but compiles all of it", () => {
    const file = Path.join(docsDir, "test", "guide-testing.test.ts")
    const lines = twoslashSource(file, "layers").split("\n")
    const cut = lines.indexOf("// ---cut---")
    const after = lines.indexOf("// ---cut-after---")
    assertTrue(cut > 0 && after > cut)
    assertTrue(lines.slice(cut + 1, after).join("\n").startsWith("const TestLive"))
    assertTrue(lines.slice(after).some((line) => line.includes("describe(")))
    assertFalse(lines.some((line) => /#(end)?region\b/.test(line)))
    throws(() => twoslashSource(file, "no-such-region"))
  })
})

const report = {
  node: "v20.20.2",
  effect: "3.22.4",
  cpus: 2,
  results: [
    {
      name: "job-cycle",
      unit: "ns",
      value: 30000,
      baselines: { "effect-fork-deferred": 40000 },
      ratios: { "effect-fork-deferred": 0.75 }
    },
    { name: "pool-init-10k", unit: "ms", value: 1, baselines: { "effect-pool-10k": 1300 }, ratios: {} },
    { name: "paused-job-heap", unit: "bytes", value: 5500, baselines: { "effect-fiber-heap": 4400 }, ratios: {} },
    { name: "rsa2048-sign", unit: "ns", value: 1_500_000, baselines: {}, ratios: {} },
    { name: "ecdsa-p256-sign", unit: "ns", value: 20_000, baselines: {}, ratios: {} }
  ]
}

describe("benchmark charts", () => {
  it("draws one chart per dimension, time first, each with a legend, an axis and a ratio on every baseline", () => {
    const drawn = charts(report)
    deepStrictEqual(drawn.map((c) => c.dimension), ["time", "memory"])
    const [time, memory] = drawn
    assertTrue(time!.svg.includes("(log scale)"), "time spans 10^6: a log scale")
    assertFalse(memory!.svg.includes("(log scale)"))
    for (const chart of drawn) {
      strictEqual(chart.svg.match(/class="(ours|base) legend"/g)?.length, 2)
      assertTrue(chart.svg.includes("class=\"axis\""))
      const baselineBars = chart.svg.match(/class="base"><title>/g)?.length ?? 0
      strictEqual(chart.svg.match(/<tspan class="ratio" dx/g)?.length, baselineBars)
    }
    assertTrue(time!.svg.includes("0.75×"), "the ratio recorded in the results")
    assertTrue(time!.svg.includes("0.000769×"), "a ratio computed when none is recorded: 1 ms ÷ 1300 ms")
    assertTrue(memory!.svg.includes("1.25×"))
    assertTrue(time!.svg.includes(">100 ms<") || time!.svg.includes(">10 ms<"), "the axis is labelled in time units")
  })

  it("uses no font smaller than its minimum, and draws at the docs' content width", () => {
    for (const chart of charts(report)) {
      const sizes = [...chart.svg.matchAll(/font-size="(\d+(?:\.\d+)?)"/g)].map((m) => Number(m[1]))
      assertTrue(sizes.length > 10)
      assertTrue(Math.min(...sizes) >= minFontSize)
      assertTrue(/viewBox="0 0 620 \d+"/.test(chart.svg))
    }
  })

  it("takes its colours from the site's theme, and from prefers-color-scheme when standalone", () => {
    const svg = charts(report)[0]!.svg
    assertTrue(svg.includes("--ours:var(--vp-c-brand-1,"))
    assertTrue(svg.includes("--bg:var(--vp-c-bg,"))
    assertTrue(svg.includes("@media (prefers-color-scheme:dark)"))
    assertFalse(/fill="#/.test(svg), "no colour is fixed in an attribute")
  })

  it("stacks every chart in latest.svg", () => {
    const document = chartsDocument(report)
    assertTrue(document.startsWith("<svg"))
    strictEqual(document.match(/class="ajb-chart"/g)?.length, 2)
  })

  it("formats values in the unit that reads best, and ratios to three digits", () => {
    deepStrictEqual(
      [
        formatValue("time", 190),
        formatValue("time", 30102.4),
        formatValue("time", 1313786214),
        formatValue("memory", 5508.7)
      ],
      ["190 ns", "30.1 µs", "1.31 s", "5.51 KB"]
    )
    deepStrictEqual([formatRatio(0.85371), formatRatio(158.37), formatRatio(0.00076990532)], [
      "0.854",
      "158",
      "0.00077"
    ])
  })
})

describe("Benchmarks page data", () => {
  it("turns latest.json into rows whose figures carry their unit, the charts, and what they mean", () => {
    const data = parse(JSON.stringify(report))
    deepStrictEqual(data.rows[0], {
      name: "job-cycle",
      subject: undefined,
      value: "30 µs",
      baselines: [{ name: "effect-fork-deferred", value: "40 µs", ratio: "0.75×" }],
      detail: []
    })
    strictEqual(data.rows[1]!.value, "1 ms")
    strictEqual(data.charts.length, 2)
    deepStrictEqual(data.machine.map((m) => m.label), ["node", "effect", "cpus"])
    deepStrictEqual(data.meaning, {
      jobCycle: "30 µs",
      jobsPerSecond: "33,000",
      signatures: [
        { name: "an RSA-2048 signature", time: "1.5 ms", jobShare: "2% of it" },
        { name: "an ECDSA P-256 signature", time: "20 µs", jobShare: "1.5 times as much" }
      ]
    })
  })

  it("names what an entry measures when it is not async-job, and the effect 3 and load of the run", () => {
    const data = parse(JSON.stringify({
      ...report,
      effect: "4.1.5",
      effect3: "3.22.4",
      loadAverage: { before: 1.234, after: 2 },
      results: [
        ...report.results,
        {
          name: "crypto-pool",
          unit: "µs",
          value: 90,
          baselines: { "hand-made-pool": 30 },
          ratios: { "hand-made-pool": 3 },
          subject: "effect/rpc worker pool (not shipped)"
        }
      ]
    }))
    deepStrictEqual(data.rows.map((r) => r.subject), [
      undefined,
      undefined,
      undefined,
      "node:crypto",
      "node:crypto",
      "effect/rpc worker pool (not shipped)"
    ])
    deepStrictEqual(data.machine, [
      { label: "node", value: "v20.20.2" },
      { label: "effect", value: "4.1.5" },
      { label: "effect 3 (the effect3- baselines)", value: "3.22.4" },
      { label: "cpus", value: "2" },
      { label: "load average (before → after)", value: "1.2 → 2.0" }
    ])
    assertTrue(data.charts[0]!.svg.includes("effect/rpc worker pool (not shipped)"), "the chart names the subject")
  })

  it("holds each target against the run's figure, and says when the run has none", () => {
    const data = parse(JSON.stringify({
      ...report,
      results: [
        ...report.results,
        {
          name: "service-sha256",
          unit: "µs",
          value: 300,
          baselines: { "fastify-piscina": 200 },
          ratios: { "fastify-piscina": 1.5 },
          detail: { "service req/s": 3333.33, "fastify-piscina req/s": 5000 }
        }
      ]
    }))
    const row = (entry: string, against: string) => data.targets.find((t) => t.entry === entry && t.against === against)
    deepStrictEqual(row("job-cycle", "effect-fork-deferred"), {
      entry: "job-cycle",
      against: "effect-fork-deferred",
      target: "≤ 1×",
      measured: "0.75×",
      met: true,
      source: "engine"
    })
    strictEqual(row("service-sha256", "fastify-piscina")?.met, false)
    strictEqual(row("service-sha256", "fastify-piscina")?.measured, "1.5×")
    strictEqual(row("paused-job-heap", "its own figure")?.met, false, "5.5 KB is past 1.6 KiB")
    strictEqual(row("facade-cycle", "job-cycle")?.measured, null, "no such entry in this run")
    deepStrictEqual(data.rows.at(-1)?.detail, ["service req/s: 3,333", "fastify-piscina req/s: 5,000"])
    const time = data.charts[0]!.svg
    assertTrue(time.includes(">async-job / offload service<"), "the service's bars are named as the service")
    assertTrue(time.includes("per operation · per HTTP request"), "the chart says what its figures count")
  })

  it("says what each memory figure counts, and gives no example ratio in the legend", () => {
    const memory = charts(report)[1]!.svg
    assertTrue(memory.includes(">held per paused job<"))
    assertFalse(/0\.5×/.test(memory), "the legend holds no figure")
    const withAllocation = charts({
      ...report,
      results: [...report.results, {
        name: "job-cycle-allocation",
        unit: "bytes",
        value: 3800,
        baselines: {},
        ratios: {}
      }]
    })[1]!.svg
    assertTrue(withAllocation.includes(">held per paused job · allocated per job cycle<"))
  })

  it("says nothing of meaning without a job cycle, and no signature when none was measured", () => {
    strictEqual(meaningOf([]), null)
    deepStrictEqual(meaningOf(report.results.slice(0, 1))?.signatures, [])
  })

  it("refuses a file without results", () => {
    throws(() => parse("{}"))
  })
})

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

  it("shows no code wider than the code column: the code blocks of the pages and the code files they include", () => {
    const wide: Array<string> = []
    const check = (where: string, line: string) => {
      if ([...line].length > codeColumns) wide.push(`${where}: ${line}`)
    }
    for (const file of pages()) {
      const markdown = Fs.readFileSync(file, "utf8")
      let fence: string | undefined
      markdown.split("\n").forEach((line, i) => {
        const marker = /^\s*(```+)\s*(\S*)/.exec(line)
        if (marker !== null && (fence === undefined || marker[2] === "")) {
          fence = fence === undefined ? (marker[2] ?? "") : undefined
        } else if (fence !== undefined && fence !== "mermaid") {
          check(`${Path.relative(docsDir, file)}:${i + 1}`, line)
        }
      })
      // a program's output (`.output.txt`) wraps as in a terminal; code does not
      for (const [, included] of markdown.matchAll(/^<<< @\/([^\s#{]+\.ts)/gm)) {
        const source = Path.join(docsDir, included!)
        Fs.readFileSync(source, "utf8").split("\n").forEach((line, i) => check(`${included}:${i + 1}`, line))
      }
    }
    deepStrictEqual(wide, [])
  })
})

describe("API signatures", () => {
  it("formats a signature wider than the code column to it, as TypeDoc writes them, and leaves the others", () => {
    const wide = "function start<A, E, R>(body, options?): Effect<JobResult<A, E>, E | NoJobsError, R | JobPool>;"
    const fitted = fitDeclarations(wide)
    assertTrue(fitted.split("\n").length > 1)
    assertTrue(fitted.split("\n").every((line) => line.length <= codeColumns), fitted)
    assertTrue(fitted.startsWith("function start<A, E, R>(") && fitted.endsWith("R | JobPool>;"))
    const narrow = "const make: (options?) => Effect.Effect<JobPool>;"
    strictEqual(fitDeclarations(narrow), narrow)
    // TypeDoc breaks a union over lines itself
    const broken =
      "const pause: <W, K>(self, wait) => Effect.Effect<W[K][\"Type\"], never, \n  | WorkflowEngine\n| Pool>;"
    assertTrue(fitDeclarations(broken).split("\n").every((line) => line.length <= codeColumns))
  })

  it("formats the signature blocks of a page, not its examples", () => {
    const example = "const x = Effect.succeed(1).pipe(Effect.map((n) => n + 1), Effect.map((n) => n * 2))"
    const markdown = [
      "```ts",
      `type JobState = "running" | "paused" | "cancelling" | "finished" | "failed" | "cancelled";`,
      "```",
      "```ts twoslash",
      example,
      "```"
    ].join("\n")
    const lines = fitSignatures(markdown).split("\n")
    deepStrictEqual(lines.slice(0, 3), ["```ts", "type JobState =", "  | \"running\""])
    assertTrue(lines.includes(example))
  })
})

describe("build cache", () => {
  const scratch = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "async-job-docs-cache-"))

  it("digests the files' contents: a changed source gives another digest, an unchanged one the same", () => {
    const dir = scratch()
    try {
      const file = Path.join(dir, "a.ts")
      Fs.writeFileSync(file, "export const a = 1\n")
      const before = inputsDigest([file])
      strictEqual(inputsDigest([file]), before)
      Fs.writeFileSync(file, "export const a = 2\n")
      assertFalse(inputsDigest([file]) === before)
      assertFalse(inputsDigest([file], ["--force"]) === inputsDigest([file]))
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("keeps twoslash's result per block, and drops the results of other inputs when it starts", () => {
    const dir = scratch()
    try {
      Fs.mkdirSync(Path.join(dir, "stale-inputs"))
      const cache = twoslashTypesCache(dir)
      cache.init?.()
      deepStrictEqual(Fs.readdirSync(dir).includes("stale-inputs"), false)
      const result = { code: "const a = 1", nodes: [] } as unknown as Parameters<typeof cache.write>[1]
      strictEqual(cache.read("const a = 1"), null)
      cache.write("const a = 1", result)
      deepStrictEqual(cache.read("const a = 1"), result)
      strictEqual(cache.read("const a = 2"), null)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("search index text", () => {
  it("is a block's visible code: no hidden lines above the cut, no notations, no region markers", () => {
    const code = [
      "// @filename: a.ts",
      "export const a = 1",
      "// ---cut---",
      "// #region main",
      "const b = a",
      "//    ^?",
      "// #endregion main",
      "// ---cut-after---",
      "console.log(b)"
    ].join("\n")
    strictEqual(visibleCode(code), "const b = a")
    strictEqual(visibleCode("const a = 1\n// ^?\nconst b = 2"), "const a = 1\nconst b = 2")
  })
})

describe("twoslash popups", () => {
  it("show a doc comment's summary, not its example and sections", () => {
    const docs = ["Runs a job.", "", "More on it.", "", "**Example** (a job)", "", "```ts", "run()", "```"].join("\n")
    strictEqual(hoverSummary(docs), "Runs a job.\n\nMore on it.")
    strictEqual(hoverSummary("Just this."), "Just this.")
  })
})
