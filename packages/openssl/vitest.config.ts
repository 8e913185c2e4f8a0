import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "openssl",
    include: ["test/**/*.test.ts"],
    // the worker-thread test loads TypeScript through tsx in each worker, which is slow on a busy machine
    testTimeout: 120_000
  }
})
