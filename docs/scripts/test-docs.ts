/// <reference lib="dom" />
/**
 * `pnpm test:docs`: builds the site, serves it on a loopback ephemeral port, and checks it in Debian's Chromium
 * driven by playwright-core (never a downloaded browser):
 *
 * - every page of the sidebar renders, with no console error, no page error, no failed request, no broken image,
 *   and no internal link (or `#anchor`) that leads nowhere;
 * - the local search finds the pause guide for "pause";
 * - hovering a twoslash identifier shows its type in a popup, and so does hovering one deep in a whole example
 *   file included in a page (the last lines of the longest code block of the driver loop page);
 * - the benchmark charts: one per unit (time, memory), each with a legend, an axis and ratios on its bars, all text
 *   at least 11 px at the width the page draws it, in the light and the dark theme (screenshots of both), whose
 *   colours differ; and the page's tables fit its width (no horizontal scroll);
 * - every API module page opens with the module's introduction: visible text between its title and its first
 *   section;
 * - the durable pages (its guide and its API module pages) are among the pages visited, and every file a page
 *   includes whole (`<<< @/examples/….ts`, its `.output.txt`) is rendered in it: the file's last line is in the page;
 * - no code block scrolls sideways at the browser's width (1280 px): examples are formatted to 80 columns;
 * - a screenshot of every page goes to `docs/.screenshots/` (ignored by git).
 *
 * Options: `--no-build` reuses `docs/.vitepress/dist` (also `DOCS_SKIP_BUILD=1`).
 * The server, the browser and its profile folder are released whatever happens.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core"
import { sidebarLinks } from "../.vitepress/sidebar.js"

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const distDir = Path.join(docsDir, ".vitepress", "dist")
const screenshotsDir = Path.join(docsDir, ".screenshots")
const chromiumPath = "/usr/bin/chromium"

/** The search that must find a page, and the page it must find. */
const searchQuery = "pause"
const searchExpects = "/concepts/pause"
/** Generous per-step limits: CI has 2 cores. */
const stepTimeout = 30_000
const overallTimeout = 10 * 60_000

const failures: Array<string> = []
const fail = (message: string): void => {
  failures.push(message)
  console.error(`  ✗ ${message}`)
}
const step = (message: string): void => console.log(`• ${message}`)

// ---------------------------------------------------------------------------------------------------------------
// Chromium and the build

const ensureChromium = (): void => {
  if (Fs.existsSync(chromiumPath)) return
  if (process.getuid?.() !== 0) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium (sudo apt-get install -y chromium)`)
  }
  step("installing Debian's chromium (apt-get)")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  for (const args of [["update"], ["install", "-y", "chromium"]]) {
    const result = spawnSync("apt-get", args, { stdio: ["ignore", "inherit", "inherit"], env })
    if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${result.status ?? result.signal})`)
  }
  if (!Fs.existsSync(chromiumPath)) throw new Error(`apt-get installed chromium, but ${chromiumPath} is missing`)
}

const build = (): void => {
  const skip = process.argv.includes("--no-build") || process.env.DOCS_SKIP_BUILD === "1"
  if (skip && Fs.existsSync(Path.join(distDir, "index.html"))) {
    step("reusing the existing build (--no-build)")
    return
  }
  step("building the site (pnpm run build)")
  const result = spawnSync("pnpm", ["run", "build"], { cwd: docsDir, stdio: ["ignore", "inherit", "inherit"] })
  if (result.status !== 0) throw new Error(`the docs build failed (${result.status ?? result.signal})`)
}

// ---------------------------------------------------------------------------------------------------------------
// A static server for the build, with VitePress's clean URLs

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}

/** The file that serves a URL path, or undefined (404). */
const fileFor = (urlPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return undefined
  }
  const base = Path.join(distDir, Path.normalize(decoded))
  if (!base.startsWith(distDir)) return undefined
  const candidates = decoded.endsWith("/") ? [Path.join(base, "index.html")] : [base, `${base}.html`]
  return candidates.find((file) => Fs.existsSync(file) && Fs.statSync(file).isFile())
}

const serve = async (): Promise<{ readonly origin: string; readonly close: () => Promise<void> }> => {
  const server = Http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    const file = fileFor(url.pathname)
    const status = file === undefined ? 404 : 200
    const body = file ?? Path.join(distDir, "404.html")
    res.writeHead(status, { "content-type": contentTypes[Path.extname(body)] ?? "application/octet-stream" })
    if (req.method === "HEAD") return res.end()
    Fs.createReadStream(body).on("error", () => res.destroy()).pipe(res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Browser checks

const launch = (userDataDir: string): Promise<BrowserContext> =>
  chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })

/**
 * The API reference's module pages (from the generated sidebar): each module of a package documented module by
 * module, and the page of a package documented from its index alone.
 */
const apiModulePages = (): Set<string> => {
  const file = Path.join(docsDir, "api", "generated", "sidebar.json")
  const sidebar = JSON.parse(Fs.readFileSync(file, "utf8")) as ReadonlyArray<
    { readonly link?: string; readonly items?: ReadonlyArray<{ readonly link?: string }> }
  >
  return new Set(
    sidebar.flatMap((pkg) =>
      (pkg.items ?? []).length > 0 ? (pkg.items ?? []).map((m) => m.link ?? "") : [pkg.link ?? ""]
    ).filter((link) => link !== "")
  )
}

/** The visible text between a page's title and its first section, "" if there is none. */
const introductionOn = (page: Page): Promise<string> =>
  page.$eval("main .vp-doc h1", (h1) => {
    const texts: Array<string> = []
    for (let el = h1.nextElementSibling; el !== null && !/^H[1-6]$/.test(el.tagName); el = el.nextElementSibling) {
      if ((el as HTMLElement).checkVisibility()) texts.push((el as HTMLElement).innerText.trim())
    }
    return texts.join(" ").trim()
  })

/** Pages that must be in the sidebar, whatever else it holds: the durable guide and the durable API modules. */
const requiredPages: ReadonlyArray<string> = [
  "/guides/durable",
  "/api/generated/durable/DurableJob",
  "/api/generated/durable/DurableJobPool",
  "/api/generated/durable/Errors"
]

/** The markdown file of a page, if the page has one (generated API pages included). */
const markdownOf = (path: string): string | undefined => {
  const base = Path.join(docsDir, path)
  const file = path.endsWith("/") ? Path.join(base, "index.md") : `${base}.md`
  return Fs.existsSync(file) ? file : undefined
}

/**
 * The files a page includes whole (`<<< @/file`, without a `#region`), with the last non-empty line of each: the
 * line that shows the whole file made it into the page.
 */
const includedFiles = (path: string): ReadonlyArray<{ readonly file: string; readonly lastLine: string }> => {
  const markdown = markdownOf(path)
  if (markdown === undefined) return []
  const includes = [...Fs.readFileSync(markdown, "utf8").matchAll(/^<<< @\/([^\s#{[]+)\s*$/gm)].map((m) => m[1]!)
  return includes.map((file) => {
    const lines = Fs.readFileSync(Path.join(docsDir, file), "utf8").split("\n").map((line) => line.trim())
    return { file, lastLine: lines.filter((line) => line !== "").at(-1) ?? "" }
  })
}

/** A code block wider than its box: the reader scrolls sideways to read it. */
interface ScrollingBlock {
  /** 1 for the page's first code block. */
  readonly index: number
  readonly firstLine: string
  readonly longestLine: string
  readonly columns: number
  readonly scroll: number
  readonly client: number
}

/**
 * The page's code blocks that scroll sideways at the browser's width: every `<pre>` of a code block, also those of
 * closed `::: details` blocks and of the tabs of a code group that are not shown (opened and shown to be measured;
 * the page is left so).
 */
const codeBlocksThatScroll = (page: Page): Promise<Array<ScrollingBlock>> =>
  page.evaluate(() => {
    for (const details of Array.from(document.querySelectorAll(".vp-doc details"))) {
      ;(details as HTMLDetailsElement).open = true
    }
    for (const tab of Array.from(document.querySelectorAll(".vp-doc .vp-code-group .blocks > div"))) {
      tab.classList.add("active")
    }
    const pres = Array.from(document.querySelectorAll(".vp-doc div[class*='language-'] > pre"))
    return pres.flatMap((pre, i) => {
      if (pre.scrollWidth <= pre.clientWidth) return []
      const lines = (pre.querySelector("code")?.textContent ?? "").split("\n")
      const longestLine = lines.reduce((a, b) => (b.length > a.length ? b : a), "")
      return [{
        index: i + 1,
        firstLine: (lines.find((line) => line.trim() !== "") ?? "").trim(),
        longestLine,
        columns: longestLine.length,
        scroll: pre.scrollWidth,
        client: pre.clientWidth
      }]
    })
  })

const slug = (path: string): string => (path === "/" ? "index" : path.replace(/^\/|\/$/g, "").replace(/\//g, "__"))

/** Internal links seen on the pages, to check once at the end: target path → where it was seen. */
const links = new Map<string, Set<string>>()

const visit = async (page: Page, origin: string, path: string, modulePage: boolean): Promise<void> => {
  const problems: Array<string> = []
  const onConsole = (msg: { type: () => string; text: () => string }) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`)
  }
  const onPageError = (error: Error) => problems.push(`page error: ${error.message}`)
  const onRequestFailed = (req: { url: () => string; failure: () => { errorText: string } | null }) => {
    const reason = req.failure()?.errorText ?? "?"
    // A navigation cancels the previous page's prefetches; a missing file shows as an HTTP error instead.
    if (reason !== "net::ERR_ABORTED") problems.push(`request failed: ${req.url()} (${reason})`)
  }
  const onResponse = (res: { url: () => string; status: () => number }) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`)
  }
  page.on("console", onConsole)
  page.on("pageerror", onPageError)
  page.on("requestfailed", onRequestFailed)
  page.on("response", onResponse)
  try {
    const response = await page.goto(origin + path, { waitUntil: "load", timeout: stepTimeout })
    if (response?.status() !== 200) problems.push(`the page answered ${response?.status() ?? "nothing"}`)
    await page.locator("#app .Layout").waitFor({ timeout: stepTimeout })
    await page.evaluate(() => document.fonts.ready.then(() => undefined))

    const broken = await page.$$eval(
      "img",
      (imgs) =>
        imgs.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.getAttribute("src") ?? "?")
    )
    for (const src of broken) problems.push(`broken image: ${src}`)

    const hrefs = await page.$$eval("a[href]", (as) => as.map((a) => (a as HTMLAnchorElement).href))
    for (const href of hrefs) {
      const url = new URL(href)
      if (url.origin !== origin) continue
      const target = url.pathname + url.hash
      const seen = links.get(target) ?? new Set<string>()
      seen.add(path)
      links.set(target, seen)
    }

    const title = await page.locator("main h1, .VPHero .name").first().textContent({ timeout: stepTimeout })
    if ((title ?? "").trim() === "") problems.push("the page has no title")
    if (modulePage && (await introductionOn(page)) === "") {
      problems.push("the API page shows no introduction of its module under its title")
    }
    const included = includedFiles(path)
    if (included.length > 0) {
      // the lines of the page's code blocks, also those of closed `::: details` blocks (textContent)
      const blocks = await page.$$eval(".vp-doc pre code", (codes) => codes.map((code) => code.textContent ?? ""))
      const lines = new Set(blocks.flatMap((block) => block.split("\n").map((line) => line.trim())))
      for (const { file, lastLine } of included) {
        if (!lines.has(lastLine)) problems.push(`the page does not show ${file} (its last line: ${lastLine})`)
      }
    }

    await page.screenshot({ path: Path.join(screenshotsDir, `${slug(path)}.png`), fullPage: true })
    for (const block of await codeBlocksThatScroll(page)) {
      problems.push(
        `code block ${block.index} (${JSON.stringify(block.firstLine)}) scrolls sideways: ${block.scroll} px in ` +
          `${block.client} px; its longest line has ${block.columns} columns: ${JSON.stringify(block.longestLine)}`
      )
    }
  } catch (error) {
    problems.push(String(error))
  } finally {
    page.off("console", onConsole)
    page.off("pageerror", onPageError)
    page.off("requestfailed", onRequestFailed)
    page.off("response", onResponse)
  }
  if (problems.length === 0) console.log(`  ✓ ${path}`)
  for (const problem of problems) fail(`${path}: ${problem}`)
}

/** Every page of sidebar.ts is in the sidebar the site renders. */
const checkSidebar = async (page: Page, origin: string, expected: ReadonlyArray<string>): Promise<void> => {
  await page.goto(`${origin}/getting-started`, { waitUntil: "load", timeout: stepTimeout })
  await page.locator(".VPSidebar").waitFor({ timeout: stepTimeout })
  const rendered = new Set(
    await page.$$eval(".VPSidebar a[href]", (as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname))
  )
  const missing = expected.filter((link) => !rendered.has(link))
  if (missing.length > 0) fail(`the rendered sidebar lacks ${missing.join(", ")}`)
  else console.log(`  ✓ the rendered sidebar holds all ${expected.length} pages`)
}

const checkLinks = async (origin: string): Promise<void> => {
  const pages = new Map<string, Promise<{ readonly status: number; readonly html: string }>>()
  const fetchPage = (path: string) => {
    let cached = pages.get(path)
    if (cached === undefined) {
      cached = fetch(origin + path).then(async (res) => ({ status: res.status, html: await res.text() }))
      pages.set(path, cached)
    }
    return cached
  }
  let checked = 0
  for (const [target, seenOn] of links) {
    const url = new URL(target, origin)
    const where = [...seenOn].slice(0, 3).join(", ")
    const { html, status } = await fetchPage(url.pathname)
    checked++
    if (status !== 200) {
      fail(`broken link to ${url.pathname} (HTTP ${status}), on ${where}`)
      continue
    }
    const id = decodeURIComponent(url.hash.slice(1))
    if (id !== "" && !html.includes(`id="${id}"`)) fail(`broken anchor ${target}, on ${where}`)
  }
  console.log(`  ✓ ${checked} internal links checked`)
}

const checkSearch = async (page: Page, origin: string): Promise<void> => {
  await page.goto(`${origin}/`, { waitUntil: "load", timeout: stepTimeout })
  await page.locator(".DocSearch-Button").first().click({ timeout: stepTimeout })
  const input = page.locator("#localsearch-input")
  await input.fill(searchQuery, { timeout: stepTimeout })
  const wanted = page.locator(`.VPLocalSearchBox a.result[href^="${searchExpects}"]`).first()
  try {
    await wanted.waitFor({ timeout: stepTimeout })
    console.log(`  ✓ searching "${searchQuery}" finds ${searchExpects}`)
  } catch {
    const found = await page.$$eval(".VPLocalSearchBox a.result", (as) => as.map((a) => a.getAttribute("href")))
    fail(`searching "${searchQuery}" did not find ${searchExpects}; it found ${found.join(", ") || "nothing"}`)
  }
  await page.screenshot({ path: Path.join(screenshotsDir, "search-pause.png") })
  await page.keyboard.press("Escape")
}

/** The page with the benchmark charts, and the page whose longest code block is a whole example file. */
const benchmarksPath = "/benchmarks"
const wholeFilePath = "/concepts/driver-loop"
/** The smallest font size of a chart's text at the width the page draws it, in CSS pixels. */
const minChartFontPx = 11

/** Twoslash names with a popup on hover (not those of `^?` queries, whose popup is always shown). */
const hoverable = ".vp-doc .twoslash-hover:not(.v-popper--theme-twoslash-query)"

/** Hovers a twoslash name and reads its popup (undefined: none showed), with a screenshot of it. */
const hoverAndRead = async (page: Page, hover: Locator, screenshot: string): Promise<string | undefined> => {
  // Centred, so that the popup below it is in the screenshot.
  await hover.evaluate((el) => el.scrollIntoView({ block: "center" }))
  await page.mouse.move(0, 0)
  await hover.hover({ timeout: stepTimeout })
  // Not the popups of `^?` queries, which are always shown.
  const popup = page.locator(".v-popper__popper--shown:not(.v-popper--theme-twoslash-query) .twoslash-popup-code")
    .first()
  try {
    await popup.waitFor({ state: "visible", timeout: stepTimeout })
  } catch {
    return undefined
  }
  const text = ((await popup.textContent()) ?? "").trim()
  await page.waitForTimeout(400) // the popup's fade-in, for the screenshot only
  await page.screenshot({ path: Path.join(screenshotsDir, screenshot) })
  return text
}

/** Hovers the first twoslash identifier on the first page that has one, and reads its popup. */
const checkTwoslash = async (page: Page, origin: string, paths: ReadonlyArray<string>): Promise<void> => {
  for (const path of paths) {
    await page.goto(origin + path, { waitUntil: "load", timeout: stepTimeout })
    // A name outside the import lines: its popup shows its type ("const answer: Effect<number, never, never>").
    const index = await page.$$eval(
      hoverable,
      (els) => els.findIndex((el) => !/^\s*import\b/.test(el.closest(".line")?.textContent ?? ""))
    )
    if (index < 0) continue
    const hover = page.locator(hoverable).nth(index)
    const token = ((await hover.locator(":scope > span").first().textContent()) ?? "").trim()
    const text = await hoverAndRead(page, hover, "twoslash-hover.png")
    if (text === undefined) return fail(`${path}: hovering the twoslash identifier "${token}" shows no popup`)
    if (token === "" || !text.includes(token)) fail(`${path}: the twoslash popup for "${token}" reads "${text}"`)
    else console.log(`  ✓ ${path}: hovering "${token}" shows "${text.replace(/\s+/g, " ")}"`)
    return
  }
  fail("no page of the sidebar has a twoslash snippet to hover")
}

/** Hovers a name near the end of the longest code block of a page (a whole example file) and reads its popup. */
const checkWholeFileHover = async (page: Page, origin: string, path: string): Promise<void> => {
  await page.goto(origin + path, { waitUntil: "load", timeout: stepTimeout })
  // The longest twoslash block, and in it the last hoverable name outside an import line.
  const found = await page.$$eval("pre.twoslash", (pres) => {
    const blocks = pres.map((pre, index) => ({ index, lines: pre.querySelectorAll(".line").length }))
    const longest = blocks.sort((a, b) => b.lines - a.lines)[0]
    if (longest === undefined) return undefined
    const pre = pres[longest.index]!
    const lines = Array.from(pre.querySelectorAll(".line"))
    const hovers = Array.from(pre.querySelectorAll(".twoslash-hover:not(.v-popper--theme-twoslash-query)"))
    const candidates = hovers.map((el) => ({ el, line: lines.indexOf(el.closest(".line")!) }))
      .filter(({ el }) => !/^\s*import\b/.test(el.closest(".line")?.textContent ?? ""))
    const last = candidates[candidates.length - 1]
    if (last === undefined) return undefined
    last.el.setAttribute("data-test-hover", "deep")
    return { lines: lines.length, line: last.line + 1, token: (last.el.firstElementChild?.textContent ?? "").trim() }
  })
  if (found === undefined) return fail(`${path}: no twoslash name to hover in its code blocks`)
  if (found.lines < 30 || found.line < found.lines / 2) {
    return fail(
      `${path}: its longest code block has ${found.lines} lines, the last name to hover is on line ${found.line}`
    )
  }
  const text = await hoverAndRead(page, page.locator("[data-test-hover=deep]"), "twoslash-hover-whole-file.png")
  if (text === undefined) {
    return fail(`${path}: hovering "${found.token}" on line ${found.line} of ${found.lines} shows no popup`)
  }
  if (found.token === "" || !text.includes(found.token)) {
    fail(`${path}: the popup of "${found.token}" (line ${found.line} of ${found.lines}) reads "${text}"`)
  } else {
    console.log(
      `  ✓ ${path}: line ${found.line} of ${found.lines}, "${found.token}" shows "${text.replace(/\s+/g, " ")}"`
    )
  }
}

interface ChartReading {
  readonly dimension: string
  readonly width: number
  readonly smallestFontPx: number
  readonly texts: number
  readonly legend: number
  readonly axis: number
  readonly ratios: number
  readonly baselineBars: number
  readonly colours: Readonly<Record<string, string>>
}

/** Each chart's measures as drawn: its width, its smallest text in CSS pixels, its parts and colours. */
const readCharts = (page: Page): Promise<Array<ChartReading>> =>
  page.$$eval(".bench-chart svg.ajb-chart", (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect()
      const scale = box.width / (svg as SVGSVGElement).viewBox.baseVal.width
      const sizes = Array.from(svg.querySelectorAll("text")).map((t) =>
        parseFloat(getComputedStyle(t).fontSize) * scale
      )
      return {
        dimension: svg.getAttribute("data-dimension") ?? "",
        width: box.width,
        smallestFontPx: Math.min(...sizes),
        texts: sizes.length,
        legend: svg.querySelectorAll("rect.legend").length,
        axis: svg.querySelectorAll("line.axis").length,
        ratios: svg.querySelectorAll("tspan.ratio").length,
        baselineBars: svg.querySelectorAll("rect.base > title").length,
        // Inline callbacks only: a named function here would need tsx's `__name` helper inside the page.
        colours: Object.fromEntries(
          [
            ["background", "rect.bg"],
            ["text", "text"],
            ["async-job bar", "rect.ours"],
            ["baseline bar", "rect.base"]
          ].map(([key, selector]) => {
            const el = svg.querySelector(selector!)
            return [key, el === null ? "" : getComputedStyle(el).getPropertyValue("fill")]
          })
        )
      }
    }))

/**
 * The benchmark charts in both themes: VitePress follows `prefers-color-scheme` until the reader picks a theme,
 * so the page is loaded once with each, and the `dark` class checked.
 */
const checkCharts = async (page: Page, origin: string): Promise<void> => {
  const readings: Record<"light" | "dark", Array<ChartReading>> = { light: [], dark: [] }
  for (const theme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: theme })
    await page.goto(origin + benchmarksPath, { waitUntil: "load", timeout: stepTimeout })
    await page.locator(".bench-chart svg").first().waitFor({ timeout: stepTimeout })
    const dark = await page.evaluate(() => document.documentElement.classList.contains("dark"))
    if (dark !== (theme === "dark")) fail(`${benchmarksPath}: in the ${theme} theme the page's dark class is ${dark}`)
    readings[theme] = await readCharts(page)
    const charts = page.locator(".bench-chart")
    for (let i = 0; i < (await charts.count()); i++) {
      const dimension = (await charts.nth(i).getAttribute("data-dimension")) ?? String(i)
      await charts.nth(i).screenshot({ path: Path.join(screenshotsDir, `benchmarks-chart-${dimension}-${theme}.png`) })
    }
    for (const chart of readings[theme]) {
      const where = `${benchmarksPath}: the ${chart.dimension} chart (${theme})`
      if (chart.smallestFontPx < minChartFontPx) {
        fail(`${where}: text drawn at ${chart.smallestFontPx.toFixed(1)} px (${chart.width.toFixed(0)} px wide)`)
      }
      if (chart.legend < 2) fail(`${where}: no legend`)
      if (chart.axis < 2) fail(`${where}: no axis`)
      if (chart.ratios < chart.baselineBars) {
        fail(`${where}: ${chart.baselineBars} baseline bars, ${chart.ratios} ratios`)
      }
    }
    const tables = await page.$$eval(
      ".vp-doc table",
      (ts) =>
        ts.map((t) => ({ scroll: t.scrollWidth, client: t.clientWidth, head: t.querySelector("th")?.textContent }))
    )
    for (const table of tables) {
      if (table.scroll > table.client + 1) {
        fail(
          `${benchmarksPath}: the table "${table.head}" is ${table.scroll} px wide in ${table.client} px (it scrolls)`
        )
      }
    }
  }
  await page.emulateMedia({ colorScheme: "light" })
  const dimensions = readings.light.map((c) => c.dimension)
  if (!dimensions.includes("time") || !dimensions.includes("memory")) {
    fail(`${benchmarksPath}: charts for ${dimensions.join(", ") || "nothing"}, not one for time and one for memory`)
  }
  readings.light.forEach((light, i) => {
    const dark = readings.dark[i]
    const same = Object.keys(light.colours).filter((k) => dark === undefined || light.colours[k] === dark.colours[k])
    if (same.length > 0) {
      fail(`${benchmarksPath}: the ${light.dimension} chart's ${same.join(", ")} is the same in both themes`)
    } else {
      console.log(
        `  ✓ the ${light.dimension} chart: text ≥ ${
          Math.min(light.smallestFontPx, dark?.smallestFontPx ?? 0).toFixed(1)
        } px at ${light.width.toFixed(0)} px wide, ${light.ratios} ratios, its colours differ between the themes`
      )
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------

const main = async (): Promise<void> => {
  const started = Date.now()
  ensureChromium()
  build()
  const paths = sidebarLinks()
  Fs.rmSync(screenshotsDir, { recursive: true, force: true })
  Fs.mkdirSync(screenshotsDir, { recursive: true })

  const userDataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "async-job-docs-chromium-"))
  let server: Awaited<ReturnType<typeof serve>> | undefined
  let context: BrowserContext | undefined
  const release = async () => {
    await context?.close().catch(() => undefined)
    context = undefined
    await server?.close()
    server = undefined
    Fs.rmSync(userDataDir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals) => {
    void release().finally(() => process.kill(process.pid, signal))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const watchdog = setTimeout(() => {
    fail(`test:docs took longer than ${overallTimeout / 1000} s`)
    void release().finally(() => process.exit(1))
  }, overallTimeout)
  try {
    server = await serve()
    step(`serving ${Path.relative(process.cwd(), distDir)} on ${server.origin}`)
    context = await launch(userDataDir)
    context.setDefaultTimeout(stepTimeout)
    const page = context.pages()[0] ?? (await context.newPage())

    step(`visiting the ${paths.length} pages of the sidebar`)
    await checkSidebar(page, server.origin, paths)
    const absent = requiredPages.filter((link) => !paths.includes(link))
    if (absent.length > 0) fail(`pages missing from the sidebar: ${absent.join(", ")}`)
    const modulePages = apiModulePages()
    const unlisted = [...modulePages].filter((link) => !paths.includes(link))
    if (unlisted.length > 0) fail(`API module pages outside the sidebar: ${unlisted.join(", ")}`)
    for (const path of paths) await visit(page, server.origin, path, modulePages.has(path))
    console.log(`  ✓ ${modulePages.size} API module pages checked for their introduction`)
    step("checking internal links")
    await checkLinks(server.origin)
    step("local search")
    await checkSearch(page, server.origin)
    step("twoslash popup")
    await checkTwoslash(page, server.origin, paths)
    await checkWholeFileHover(page, server.origin, wholeFilePath)
    step("benchmark charts, light and dark")
    await checkCharts(page, server.origin)
  } finally {
    clearTimeout(watchdog)
    await release()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`screenshots: ${Path.relative(process.cwd(), screenshotsDir)}/`)
  if (failures.length > 0) {
    console.error(`test:docs: ${failures.length} problem(s) in ${paths.length} pages (${seconds} s)`)
    process.exitCode = 1
  } else {
    console.log(`test:docs: all ${paths.length} pages checked, no problem (${seconds} s)`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
