import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "openssl",
    include: ["test/**/*.test.ts"]
  }
})
