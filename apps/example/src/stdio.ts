/**
 * The bits of C's stdio the example programs need, and their optional report of open descriptors.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/**
 * `printf` of a preformatted string: writes to stdout, nothing else.
 *
 * @since 0.1.0
 * @category stdio
 */
export const printf = (text: string): void => {
  process.stdout.write(text)
}

/**
 * A C string: the bytes up to the first NUL, as UTF-8.
 *
 * @since 0.1.0
 * @category stdio
 */
export const cString = (bytes: Uint8Array): string => {
  const end = bytes.indexOf(0)
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end))
}

/**
 * The environment variable that makes a program report its open descriptors on stderr.
 *
 * @since 0.1.0
 * @category testing
 */
export const REPORT_FDS_ENV = "ASYNC_JOB_EXAMPLE_REPORT_FDS"

/**
 * The process's open descriptors now, as `"fd -> target"` (the descriptor `readdir` itself used is gone by
 * the time it is read, and is left out).
 *
 * @since 0.1.0
 * @category testing
 */
export const openFds = (): Array<string> => {
  const out: Array<string> = []
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      out.push(`${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`)
    } catch {
      // the directory stream of readdirSync, closed already
    }
  }
  return out
}

/**
 * When {@link REPORT_FDS_ENV} is `1`, a program takes the list of open descriptors when it starts and, at
 * its end, writes one line `{"start":[...],"end":[...]}` to stderr, so that a test can check that nothing
 * was left open. Stdout is not touched.
 *
 * @since 0.1.0
 * @category testing
 */
export const reportOpenFds = {
  start: (): ReadonlyArray<string> | undefined => process.env[REPORT_FDS_ENV] === "1" ? openFds() : undefined,
  end: (start: ReadonlyArray<string> | undefined): void => {
    if (start !== undefined) process.stderr.write(`${JSON.stringify({ start, end: openFds() })}\n`)
  }
}
