/**
 * Fault injection: a plan names one labelled point of a scenario and one
 * fault to inject there. Scenarios call {@link Injector.at} at each of their
 * points; the injector does the fault when the label matches.
 */
import { Data, Deferred, Effect } from "effect"

export class Injected extends Data.TaggedError("Injected") {}
export class InjectedDefect extends Data.TaggedError("InjectedDefect") {}

/**
 * - `fail`: a typed failure at the point;
 * - `die`: a defect;
 * - `interrupt`: the fiber at the point interrupts itself;
 * - `interruptCaller`: the point blocks, and the test interrupts the fiber
 *   that drives the scenario (the caller of start, resume, cancel, close...).
 */
export type Fault = "fail" | "die" | "interrupt" | "interruptCaller"

export const faults: ReadonlyArray<Fault> = ["fail", "die", "interrupt", "interruptCaller"]

export interface Plan {
  readonly label: string
  readonly fault: Fault
}

export class Injector {
  /** labels passed, in order, with how often */
  readonly passed: Array<string> = []
  /** completed once the caller-interrupting point is reached */
  readonly reached = Deferred.makeUnsafe<void>()
  /** completed by the test once it has interrupted the caller */
  readonly release = Deferred.makeUnsafe<void>()
  fired = false

  constructor(readonly plan: Plan) {}

  count(label: string): number {
    return this.passed.filter((passed) => passed === label).length
  }

  /**
   * The point `label`: does the planned fault if it is this point (once).
   * Typed as infallible so that it fits finalizers and cleanups too; a
   * `fail` there is a failure the types do not announce, as a buggy
   * finalizer would cause.
   */
  at(label: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.passed.push(label)
      if (this.fired || label !== this.plan.label) return Effect.void
      this.fired = true
      switch (this.plan.fault) {
        case "fail":
          return Effect.fail(new Injected()) as unknown as Effect.Effect<void>
        case "die":
          return Effect.die(new InjectedDefect())
        case "interrupt":
          return Effect.interrupt
        case "interruptCaller":
          return Effect.andThen(Deferred.succeed(this.reached, undefined), Deferred.await(this.release))
      }
    })
  }
}
