/**
 * Runs both example programs as child processes as a user types them at the root (`pnpm example`,
 * `pnpm example-effect`: the example package's bins, which pnpm runs without a banner), compares their stdout byte for byte with the man page's expected output
 * (spec §6), and checks that each closed every descriptor it opened.
 */
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { REPORT_FDS_ENV } from "../src/stdio.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))

const expected = [
  "Starting...",
  "Executing within a job",
  "Passed in message is: Hello world!",
  "Job was paused",
  "Waiting for the job to be woken up",
  "Resumed the job after a pause",
  "Job finished with return value 1",
  "Finishing"
].map((line) => `${line}\n`).join("")

const run = async (script: string) => {
  // exactly as a user types it: pnpm runs a bin without printing a banner of its own
  const { stderr, stdout } = await promisify(execFile)("pnpm", [script], {
    cwd: root,
    env: { ...process.env, [REPORT_FDS_ENV]: "1" }
  })
  const report = JSON.parse(stderr.trim().split("\n").at(-1)!) as {
    readonly start: ReadonlyArray<string>
    readonly end: ReadonlyArray<string>
  }
  return { stdout, report }
}

describe("the man page's example", () => {
  for (const script of ["example", "example-effect"]) {
    it(`pnpm ${script} prints exactly the eight lines and leaves no descriptor open`, async () => {
      // execFile rejects on a non-zero exit code
      const { report, stdout } = await run(script)
      strictEqual(stdout, expected)
      deepStrictEqual(report.end, report.start)
    })
  }
})
