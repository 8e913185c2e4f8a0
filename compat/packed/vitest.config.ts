/**
 * The packages as a user installs them: packed, installed from the tarballs into projects outside the workspace
 * (pnpm and npm), type-checked and run (packed.test.ts). Its files are its own project, so that it runs beside the
 * others; project/ holds the scratch projects' own files, not tests of this workspace.
 */
import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "packed",
    include: ["packed.test.ts"]
  }
})
