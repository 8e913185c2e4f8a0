import { existsSync } from "node:fs"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      "packages/*/vitest.config.ts",
      "apps/*/vitest.config.ts",
      "docs/vitest.config.ts",
      "bench/vitest.config.ts",
      "compat/vitest.config.ts",
      "compat/packed/vitest.config.ts"
    ].filter((p) => !p.includes("*") ? existsSync(p) : true),
    reporters: ["default", ["json", { outputFile: ".vitest-results/results.json" }]]
  }
})
