/**
 * The suites of the packages that declare `effect` as a peer over the 4.x
 * releases they support (core and openssl, whose engine and facade depend on
 * effect's run loop, and platform-node and testing), again on the oldest
 * effect of that range: every `effect` and `@effect/vitest` import, in the
 * sources, the tests and `@effect/vitest` itself, resolves to effect 4.1.0 and
 * the oldest `@effect/vitest` 4 release that accepts it (4.0.6). The default
 * projects run the newest. (Worker threads a test starts load their modules
 * outside vite, on the newest.)
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const require = createRequire(import.meta.url)
const effect = dirname(require.resolve("effect-oldest/package.json"))
const effectVitest = dirname(require.resolve("@effect/vitest-oldest/package.json"))

export default defineProject({
  resolve: {
    alias: [
      { find: /^effect$/, replacement: join(effect, "dist/index.js") },
      { find: /^effect\/testing$/, replacement: join(effect, "dist/testing/index.js") },
      { find: /^effect\/(.*)$/, replacement: join(effect, "dist/$1.js") },
      { find: /^@effect\/vitest$/, replacement: join(effectVitest, "dist/index.js") },
      { find: /^@effect\/vitest\/utils$/, replacement: join(effectVitest, "dist/utils.js") }
    ]
  },
  test: {
    name: "effect-oldest",
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: [
      "compat/*.test.ts",
      "packages/core/test/**/*.test.ts",
      "packages/openssl/test/**/*.test.ts",
      "packages/platform-node/test/**/*.test.ts",
      "packages/testing/test/**/*.test.ts"
    ],
    // transformed by vite, so that their own imports of effect take the aliases above
    server: { deps: { inline: [/effect@4\.1\.0/, /@effect\+vitest@4\.0\.6/] } },
    testTimeout: 120_000
  }
})
