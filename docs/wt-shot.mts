import { chromium } from "playwright-core"
import { readFileSync } from "node:fs"
const [file, out, scheme] = process.argv.slice(2)
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--headless", "--disable-gpu"] })
const p = await b.newPage({ viewport: { width: 720, height: 900 }, colorScheme: scheme as "dark" })
await p.setContent(`<html><body style="margin:0">${readFileSync(file, "utf8")}</body></html>`)
await p.screenshot({ path: out, fullPage: true, timeout: 60000 })
await b.close()
