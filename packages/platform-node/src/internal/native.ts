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
  /**
   * `onReadable(fd)` is called once per watch, when the fd is readable. Within one wake-up it is called for
   * each reported fd in turn (microtasks run in between); an fd that the earlier calls unwatched, watched
   * anew or emptied is skipped (an emptied one stays watched).
   */
  readonly setCallback: (onReadable: (fd: number) => void) => void
  /** Starts a new watch of `fd` (re-arming it if it is watched already). Throws EPERM for regular files. */
  readonly watch: (fd: number) => void
  /** Stops watching `fd`, also when it was reported and waits for its turn; returns whether it was watched. */
  readonly unwatch: (fd: number) => boolean
  readonly watchCount: () => number
}

/**
 * A waiter on one fd: called once, with `undefined` when the fd is readable, or with the reason it cannot be.
 *
 * @internal
 */
export type Listener = (error: unknown) => void

/**
 * The addon and this thread's waiters, by fd. Kept on `globalThis`, so that every copy of this module in a
 * thread (module registries reset by test runners, duplicated bundles) shares the one callback the addon calls.
 *
 * @internal
 */
export interface Native {
  readonly binding: Binding
  readonly waiters: Map<number, Set<Listener>>
}

const addonUrl = new URL("../../build/Release/async_job_fd.node", import.meta.url)
const key = Symbol.for("@async-job/platform-node/native")

/**
 * Calls every listener, even when one throws; then rethrows the first error (an uncaught exception).
 *
 * @internal
 */
export const notify = (listeners: Iterable<Listener>, error: unknown): void => {
  let failure: { readonly error: unknown } | undefined
  for (const listener of listeners) {
    try {
      listener(error)
    } catch (error) {
      failure ??= { error }
    }
  }
  if (failure !== undefined) throw failure.error
}

/** @internal */
export const load = (): Native => {
  const holder = globalThis as { [key]?: Native }
  const loaded = holder[key]
  if (loaded !== undefined) return loaded
  let binding: Binding
  try {
    binding = createRequire(import.meta.url)(addonUrl.pathname) as Binding
  } catch (cause) {
    throw new Error(
      `@async-job/platform-node: cannot load its native addon (${addonUrl.pathname}); ` +
        "it is built by the package's install script: run `pnpm install` (needs python3, make and a C compiler)",
      { cause }
    )
  }
  const waiters = new Map<number, Set<Listener>>()
  binding.setCallback((fd) => {
    const listeners = waiters.get(fd)
    if (listeners === undefined) return
    waiters.delete(fd)
    notify(listeners, undefined)
  })
  const native: Native = { binding, waiters }
  holder[key] = native
  return native
}
