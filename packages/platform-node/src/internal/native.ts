import { createRequire } from "node:module"

/**
 * The native addon (native/async_job_fd.c), loaded once per thread on first use.
 *
 * @internal
 */
export interface Binding {
  readonly pipe: () => [number, number]
  readonly writeByte: (fd: number) => boolean
  /** 1: a byte was read; 0: nothing to read now; -1: end of file. */
  readonly readByte: (fd: number) => -1 | 0 | 1
  readonly drain: (fd: number) => number
  readonly isReadable: (fd: number) => boolean
  readonly isOwned: (fd: number) => boolean
  readonly close: (fd: number) => boolean
  readonly setCallback: (onReadable: (fd: number) => void) => void
  readonly watch: (fd: number) => void
  readonly unwatch: (fd: number) => boolean
  readonly watchCount: () => number
}

const addonUrl = new URL("../../build/Release/async_job_fd.node", import.meta.url)

let binding: Binding | undefined

/** @internal */
export const load = (onReadable: (fd: number) => void): Binding => {
  if (binding !== undefined) return binding
  let loaded: Binding
  try {
    loaded = createRequire(import.meta.url)(addonUrl.pathname) as Binding
  } catch (cause) {
    throw new Error(
      `@async-job/platform-node: cannot load its native addon (${addonUrl.pathname}); ` +
        "it is built by the package's install script: run `pnpm install` (needs python3, make and a C compiler)",
      { cause }
    )
  }
  loaded.setCallback(onReadable)
  binding = loaded
  return loaded
}
