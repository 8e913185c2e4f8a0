import * as WaitFd from "@async-job/core/WaitFd"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeWaitFd from "../NodeWaitFd.js"
import * as native from "./native.js"

// The error class lives in the public module; it is only used inside functions, so the import cycle is harmless.
type FdError = NodeWaitFd.FdError
const fdError = (fields: ConstructorParameters<typeof NodeWaitFd.FdError>[0]): FdError => new NodeWaitFd.FdError(fields)
const isFdError = (u: unknown): u is FdError => u instanceof NodeWaitFd.FdError

// ---------------------------------------------------------------------------------------------------------------------
// errors

const toFdError = (syscall: string, fd: number, cause: unknown): FdError => {
  const error = cause as { readonly code?: unknown; readonly syscall?: unknown; readonly message?: unknown }
  const code = typeof error?.code === "string" ? error.code : "EUNKNOWN"
  return fdError({
    syscall: typeof error?.syscall === "string" ? error.syscall : syscall,
    fd,
    code,
    message: typeof error?.message === "string" ? `${error.message} (fd ${fd})` : `${syscall} failed (fd ${fd})`
  })
}

const badFd = (syscall: string, fd: number): FdError =>
  fdError({ syscall, fd, code: "EBADF", message: `${syscall} EBADF: not a file descriptor (fd ${fd})` })

const closedWhileWaiting = (fd: number): FdError =>
  fdError({ syscall: "close", fd, code: "EBADF", message: `fd ${fd} was closed while waiting for it` })

const isFdNumber = (fd: number): boolean => Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff

/** Runs a native call, turning its exceptions into `FdError`s. */
const call = <A>(syscall: string, fd: number, f: (binding: native.Binding) => A): A => {
  if (!isFdNumber(fd)) throw badFd(syscall, fd)
  const binding = native.load().binding
  try {
    return f(binding)
  } catch (cause) {
    throw toFdError(syscall, fd, cause)
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// readiness: one native watch per fd and thread, shared by every waiter on that fd

/** `undefined`: the fd is readable; an `FdError`: waiting failed (bad fd, or closed while waiting). */
type Listener = (error: FdError | undefined) => void

const noop = () => {}

/**
 * Calls `listener` once: at once if `fd` is readable (or cannot be waited on), else when it becomes readable.
 * Returns a function that unsubscribes. Never throws.
 *
 * @internal
 */
export const subscribe = (fd: number, listener: Listener): () => void => {
  let state: native.Native
  try {
    if (!isFdNumber(fd)) throw badFd("poll", fd)
    state = native.load()
    if (state.binding.isReadable(fd)) {
      listener(undefined)
      return noop
    }
  } catch (cause) {
    listener(isFdError(cause) ? cause : toFdError("poll", fd, cause))
    return noop
  }
  const { binding, waiters } = state
  let listeners = waiters.get(fd)
  if (listeners === undefined) {
    try {
      binding.watch(fd)
    } catch (cause) {
      const error = toFdError("epoll_ctl", fd, cause)
      // epoll refuses regular files and directories, which select() reports readable at all times
      listener(error.code === "EPERM" ? undefined : error)
      return noop
    }
    listeners = new Set()
    waiters.set(fd, listeners)
  }
  // a fresh entry per subscription, so that one function may subscribe twice
  const entry: native.Listener = (error) => listener(error as FdError | undefined)
  const current = listeners
  current.add(entry)
  return () => {
    if (!current.delete(entry) || current.size > 0 || waiters.get(fd) !== current) return
    waiters.delete(fd)
    binding.unwatch(fd)
  }
}

/** @internal */
export const watchedFdCount = (): number => native.load().binding.watchCount()

// ---------------------------------------------------------------------------------------------------------------------
// synchronous fd operations

/** @internal */
export const pipe = (): [number, number] => {
  const binding = native.load().binding
  try {
    return binding.pipe()
  } catch (cause) {
    throw toFdError("pipe2", -1, cause)
  }
}

/** @internal */
export const writeByte = (fd: number): boolean => call("write", fd, (binding) => binding.writeByte(fd))

/** @internal */
export const readByte = (fd: number): boolean => call("read", fd, (binding) => binding.readByte(fd) === 1)

/** @internal */
export const drain = (fd: number): number => call("read", fd, (binding) => binding.drain(fd))

/** @internal */
export const isReadable = (fd: number): boolean => call("poll", fd, (binding) => binding.isReadable(fd))

/** @internal */
export const close = (fd: number): boolean =>
  call("close", fd, (binding) => {
    if (!binding.isOwned(fd)) return false
    // stop watching before the number can be reused
    const { waiters } = native.load()
    const listeners = waiters.get(fd)
    if (listeners !== undefined) {
      waiters.delete(fd)
      binding.unwatch(fd)
    }
    const closed = binding.close(fd)
    if (listeners !== undefined) native.notify(listeners, closedWhileWaiting(fd))
    return closed
  })

// ---------------------------------------------------------------------------------------------------------------------
// waits

/** @internal */
export const awaitReadable = (fd: number): Effect.Effect<void, FdError> =>
  Effect.callback<void, FdError>((resume) => {
    const unsubscribe = subscribe(fd, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
    return Effect.sync(unsubscribe)
  })

/** @internal */
export const waitReadable = (
  fd: number,
  options?: { readonly signal?: AbortSignal | undefined } | undefined
): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const signal = options?.signal
    if (signal?.aborted) return reject(signal.reason)
    let settled = false
    const onAbort = () => {
      if (settled) return
      settled = true
      unsubscribe()
      reject(signal?.reason)
    }
    const unsubscribe = subscribe(fd, (error) => {
      if (settled) return
      settled = true
      signal?.removeEventListener("abort", onAbort)
      if (error === undefined) resolve()
      else reject(error)
    })
    if (!settled) signal?.addEventListener("abort", onAbort, { once: true })
  })

// ---------------------------------------------------------------------------------------------------------------------
// wait fds

class FromFd implements NodeWaitFd.NodeWaitFd {
  readonly [WaitFd.TypeId]: WaitFd.TypeId = WaitFd.TypeId
  readonly _tag = "NodeWaitFd" as const
  constructor(readonly fd: number) {}
  onReadyUnsafe = (onReady: () => void): () => void => subscribe(this.fd, () => onReady())
}

/** @internal */
export const fromFd = (fd: number): NodeWaitFd.NodeWaitFd => new FromFd(fd)

class Pipe implements NodeWaitFd.PipeWaitFd {
  readonly [WaitFd.TypeId]: WaitFd.TypeId = WaitFd.TypeId
  readonly _tag = "PipeWaitFd" as const
  private closed = false
  constructor(readonly fd: number, readonly writeFd: number) {}

  onReadyUnsafe = (onReady: () => void): () => void => {
    if (!this.closed) return subscribe(this.fd, () => onReady())
    onReady()
    return noop
  }

  signalUnsafe = (): void => {
    if (this.closed) throw badFd("write", this.writeFd)
    // false means the pipe is full: it is readable anyway
    writeByte(this.writeFd)
  }

  clearUnsafe = (): boolean => {
    if (this.closed) return false
    return drain(this.fd) > 0
  }

  isReadableUnsafe = (): boolean => !this.closed && isReadable(this.fd)

  isClosedUnsafe = (): boolean => this.closed

  closeUnsafe = (): void => {
    if (this.closed) return
    this.closed = true
    try {
      close(this.fd)
    } finally {
      close(this.writeFd)
    }
  }
}

/** @internal */
export const makePipeUnsafe = (): NodeWaitFd.PipeWaitFd => {
  const [readFd, writeFd] = pipe()
  return new Pipe(readFd, writeFd)
}

/** Runs a synchronous operation: an `FdError` it throws fails the effect, anything else is a defect. */
const attempt = <A>(f: () => A): Effect.Effect<A, FdError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (cause) {
      return isFdError(cause) ? Effect.fail(cause) : Effect.die(cause)
    }
  })

/** @internal */
export const makePipe: Effect.Effect<NodeWaitFd.PipeWaitFd, FdError, Scope.Scope> = Effect.acquireRelease(
  attempt(makePipeUnsafe),
  (pipe) => Effect.sync(() => pipe.closeUnsafe())
)

/** @internal */
export const signal = (self: NodeWaitFd.PipeWaitFd): Effect.Effect<void, FdError> => attempt(self.signalUnsafe)

/** @internal */
export const clear = (self: NodeWaitFd.PipeWaitFd): Effect.Effect<boolean, FdError> => attempt(self.clearUnsafe)
