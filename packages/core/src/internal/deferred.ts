/**
 * A Deferred with a fast object shape.
 *
 * Effect 3's `Deferred.unsafeMake` builds each Deferred by spreading a
 * prototype-like object into a literal together with its own fields; Node 20's
 * V8 gives such objects a slow dictionary shape, which made `Deferred.make`
 * cost about 5.5 µs, the largest single cost of a job's pause (see
 * `../shared/notes/engine-notes.md` and `pnpm bench`). Pause must stay a
 * Deferred suspension, so we build the very same structure (the Deferred type
 * id, a `state` MutableRef holding `{ _tag: "Pending", joiners }`, and
 * `blockingOn`) on a shared prototype instead. Every `Deferred` function of
 * effect works on it; test/Deferred.test.ts checks that against the pinned
 * effect version.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effectable from "effect/Effectable"
import type * as FiberId from "effect/FiberId"
import * as MutableRef from "effect/MutableRef"

const variance = { _E: (_: never) => _, _A: (_: never) => _ }

const DeferredProto = Object.assign(Object.create(Effectable.CommitPrototype), {
  [Deferred.DeferredTypeId]: variance,
  commit(this: Deferred.Deferred<unknown, unknown>) {
    return Deferred.await(this)
  }
})

/** @internal */
export const unsafeMake = <A, E = never>(fiberId: FiberId.FiberId): Deferred.Deferred<A, E> => {
  const self = Object.create(DeferredProto)
  self.state = MutableRef.make({ _tag: "Pending", joiners: [] })
  self.blockingOn = fiberId
  return self
}
