/**
 * The same program written with the Effect API of @async-job/core:
 * apps/example/src/mainEffect.ts (`pnpm example:effect`). Importing
 * it runs it, so that the docs test checks its output.
 */
import "@async-job/example/mainEffect"
