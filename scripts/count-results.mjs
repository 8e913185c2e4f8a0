// Sums the vitest JSON reports in a folder and prints the plain line CI reads: "N passed, N failed".
// Exits non-zero when a test failed or no test ran.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const dir = process.argv[2] ?? ".vitest-results"
let passed = 0
let failed = 0
if (existsSync(dir)) {
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".json"))) {
    const report = JSON.parse(readFileSync(join(dir, file), "utf8"))
    passed += report.numPassedTests ?? 0
    failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0)
    if (report.success === false && report.numFailedTests === 0) failed += 1
  }
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
