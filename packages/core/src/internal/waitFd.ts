import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Predicate from "effect/Predicate"
import type * as WaitFd from "../WaitFd.js"

/** @internal */
export const TypeId: typeof WaitFd.TypeId = Symbol.for("@async-job/core/WaitFd") as typeof WaitFd.TypeId

let nextFd = -1

class InProcess implements WaitFd.InProcessWaitFd, Inspectable.Inspectable {
  readonly [TypeId]: WaitFd.TypeId = TypeId
  readonly _tag = "InProcessWaitFd" as const
  readonly fd = nextFd--
  private signalled = false
  private readonly subscribers = new Set<() => void>()

  isSignalledUnsafe = () => this.signalled

  signalUnsafe = () => {
    this.signalled = true
    if (this.subscribers.size === 0) return
    const subscribers = Array.from(this.subscribers)
    this.subscribers.clear()
    for (const onReady of subscribers) onReady()
  }

  clearUnsafe = () => {
    const was = this.signalled
    this.signalled = false
    return was
  }

  onReadyUnsafe = (onReady: () => void) => {
    if (this.signalled) {
      onReady()
      return noop
    }
    // a fresh wrapper per subscription, so one callback may subscribe twice
    const entry = () => onReady()
    this.subscribers.add(entry)
    return () => {
      this.subscribers.delete(entry)
    }
  }

  toJSON() {
    return { _id: "WaitFd", _tag: this._tag, fd: this.fd, signalled: this.signalled }
  }

  toString(): string {
    return Inspectable.toStringUnknown(this.toJSON())
  }

  [Inspectable.NodeInspectSymbol]() {
    return this.toJSON()
  }
}

const noop = () => {}

/** @internal */
export const makeUnsafe = (): WaitFd.InProcessWaitFd => new InProcess()

/** @internal */
export const make: Effect.Effect<WaitFd.InProcessWaitFd> = Effect.sync(makeUnsafe)

/** @internal */
export const signal = (self: WaitFd.InProcessWaitFd): Effect.Effect<void> => Effect.sync(() => self.signalUnsafe())

/** @internal */
export const clear = (self: WaitFd.InProcessWaitFd): Effect.Effect<boolean> => Effect.sync(() => self.clearUnsafe())

/** @internal */
export const isSignalled = (self: WaitFd.InProcessWaitFd): Effect.Effect<boolean> =>
  Effect.sync(() => self.isSignalledUnsafe())

/** @internal */
export const awaitReady = (self: WaitFd.WaitFd): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let done = false
    const unsubscribe = self.onReadyUnsafe(() => {
      done = true
      resume(Effect.void)
    })
    return done ? undefined : Effect.sync(unsubscribe)
  })

/** @internal */
export const isWaitFd = (u: unknown): u is WaitFd.WaitFd => Predicate.hasProperty(u, TypeId)
