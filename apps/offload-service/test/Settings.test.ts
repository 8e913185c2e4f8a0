/**
 * One table of settings (issue 24, item 9): generated from `config.ts`, it is
 * `settings.md`, and the README carries it verbatim; every variable the
 * configuration reads is in it, and nothing else.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as ServiceConfig from "../src/config.js"

const read = (path: string) => Fs.readFileSync(new URL(path, import.meta.url), "utf8")

describe("the settings table", () => {
  it.effect("settings.md is the table generated from config.ts (pnpm --filter @async-job/offload-service settings)", () =>
    Effect.sync(() => strictEqual(read("../settings.md"), ServiceConfig.settingsTable())))

  it.effect("the README carries it verbatim", () =>
    Effect.sync(() => assertTrue(read("../../../README.md").includes(ServiceConfig.settingsTable()))))

  it.effect("it lists exactly the variables config.ts reads", () =>
    Effect.sync(() => {
      const source = read("../src/config.ts")
      const body = source.slice(0, source.indexOf("export const settings"))
      const read_ = new Set(
        Array.from(body.matchAll(/(?:Config\.\w+|atLeast|duration|list|httpUrl)\("([A-Z_]+)"/g), (match) => match[1]!)
      )
      const listed = new Set(ServiceConfig.settings.map((setting) => setting.variable))
      deepStrictEqual([...read_].sort(), [...listed].sort())
    }))
})
