/**
 * `pnpm --filter @async-job/offload-service settings`: writes `settings.md`,
 * the table of every setting generated from `config.ts`, which the README
 * (and the docs' offload guide) carry verbatim (`test/Settings.test.ts`
 * checks both).
 */
import * as Fs from "node:fs"
import { settingsTable } from "./config.js"

Fs.writeFileSync(new URL("../settings.md", import.meta.url), settingsTable())
