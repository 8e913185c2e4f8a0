/**
 * Random programs over the engine: their shape, and their generators.
 *
 * A program is plain data, so that fast-check can shrink it and a failing
 * one can be pasted into a regression test as is.
 */
import * as fc from "fast-check"

/** What a job body does, one instruction after another. */
export type Instr =
  | { readonly _tag: "Pause" }
  /** a pause inside `Effect.uninterruptible`: cancelling must still end it */
  | { readonly _tag: "PauseUninterruptible" }
  /** a pause inside a finalizer (the release of a resource): closing must still end it */
  | { readonly _tag: "PauseInFinalizer" }
  | { readonly _tag: "Block" }
  | { readonly _tag: "Unblock" }
  /** registers a fresh fd under `key` on the job's own wait ctx (if it has one) */
  | { readonly _tag: "SetFd"; readonly key: number; readonly cleanup: boolean }
  /** closes the newest live fd under `key`, then clears it */
  | { readonly _tag: "ClearFd"; readonly key: number }

/**
 * How a body ends. `Hang` never returns: the harness then does `then` to the
 * job while it runs (interrupts the caller of start/resume, closes the pool,
 * or closes the job's wait ctx).
 */
export type End =
  | { readonly _tag: "Return"; readonly value: number }
  | { readonly _tag: "Fail" }
  | { readonly _tag: "Die" }
  | { readonly _tag: "Hang"; readonly then: "interrupt" | "closePool" | "closeCtx" }

export interface Script {
  readonly instrs: ReadonlyArray<Instr>
  readonly end: End
}

/**
 * One step of a program. Jobs are chosen by index among the jobs started so
 * far (`paused: true`: among the paused ones), modulo their number; `via`
 * picks another pool (a foreign resume) when not null.
 */
export type Op =
  | { readonly _tag: "Start"; readonly pool: number; readonly ctx: number | null; readonly script: Script }
  | { readonly _tag: "Resume"; readonly job: number; readonly paused: boolean; readonly via: number | null }
  | { readonly _tag: "Cancel"; readonly job: number; readonly paused: boolean; readonly via: number | null }
  | { readonly _tag: "SetFd"; readonly ctx: number; readonly key: number; readonly cleanup: boolean }
  | { readonly _tag: "ClearFd"; readonly ctx: number; readonly key: number }
  | { readonly _tag: "CloseCtx"; readonly ctx: number }
  | { readonly _tag: "ClosePool"; readonly pool: number }
  | { readonly _tag: "Reconfigure"; readonly pool: number; readonly maxSize: number; readonly initSize: number }

export interface PoolSpec {
  readonly maxSize: number
  readonly initSize: number
}

export interface Program {
  readonly pools: ReadonlyArray<PoolSpec>
  readonly ctxs: number
  readonly ops: ReadonlyArray<Op>
}

const KEYS = 3

const instr: fc.Arbitrary<Instr> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ _tag: "Pause" } as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "PauseUninterruptible" } as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "PauseInFinalizer" } as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Block" } as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Unblock" } as const) },
  {
    weight: 2,
    arbitrary: fc.record({ _tag: fc.constant("SetFd" as const), key: fc.nat(KEYS - 1), cleanup: fc.boolean() })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("ClearFd" as const), key: fc.nat(KEYS - 1) }) }
)

const end: fc.Arbitrary<End> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ _tag: fc.constant("Return" as const), value: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.constant({ _tag: "Fail" } as const) },
  { weight: 2, arbitrary: fc.constant({ _tag: "Die" } as const) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("Hang" as const),
      then: fc.oneof(
        { weight: 3, arbitrary: fc.constant("interrupt" as const) },
        { weight: 1, arbitrary: fc.constantFrom("closePool" as const, "closeCtx" as const) }
      )
    })
  }
)

const script: fc.Arbitrary<Script> = fc.record({ instrs: fc.array(instr, { maxLength: 6 }), end })

const poolSpec: fc.Arbitrary<PoolSpec> = fc.nat(4).chain((maxSize) =>
  fc.record({ maxSize: fc.constant(maxSize), initSize: maxSize === 0 ? fc.constant(0) : fc.nat(maxSize) })
)

const op = (pools: number, ctxs: number): fc.Arbitrary<Op> => {
  const pool = fc.nat(pools - 1)
  const ctx = fc.nat(ctxs - 1)
  const via = fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pool })
  const pick = { job: fc.nat(20), paused: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)) }
  return fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        _tag: fc.constant("Start" as const),
        pool,
        ctx: fc.oneof({ weight: 4, arbitrary: ctx }, { weight: 1, arbitrary: fc.constant(null) }),
        script
      })
    },
    { weight: 10, arbitrary: fc.record({ _tag: fc.constant("Resume" as const), ...pick, via }) },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Cancel" as const), ...pick, via }) },
    {
      weight: 2,
      arbitrary: fc.record({ _tag: fc.constant("SetFd" as const), ctx, key: fc.nat(KEYS - 1), cleanup: fc.boolean() })
    },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("ClearFd" as const), ctx, key: fc.nat(KEYS - 1) }) },
    { weight: 1, arbitrary: fc.record({ _tag: fc.constant("CloseCtx" as const), ctx }) },
    { weight: 1, arbitrary: fc.record({ _tag: fc.constant("ClosePool" as const), pool }) },
    {
      weight: 1,
      arbitrary: poolSpec.map((spec) => spec).chain((spec) =>
        fc.record({
          _tag: fc.constant("Reconfigure" as const),
          pool,
          maxSize: fc.constant(spec.maxSize),
          initSize: fc.constant(spec.initSize)
        })
      )
    }
  )
}

/** Programs of `minOps` to `maxOps` steps over 1–3 pools and 1–4 wait ctxs. */
export const program = (minOps = 30, maxOps = 60): fc.Arbitrary<Program> =>
  fc.tuple(fc.array(poolSpec, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 4 })).chain((
    [pools, ctxs]
  ) =>
    fc.record({
      pools: fc.constant(pools),
      ctxs: fc.constant(ctxs),
      ops: fc.array(op(pools.length, ctxs), { minLength: minOps, maxLength: maxOps })
    })
  )
