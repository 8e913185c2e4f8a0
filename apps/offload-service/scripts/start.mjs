// @ts-check
/**
 * `pnpm start`: the service from its bundle (`bundle.mjs`), rebuilt first if any of its sources changed since it
 * was built, in this same process (signals reach the service itself).
 */
import { freshBundle } from "./bundle.mjs"

await import(await freshBundle())
