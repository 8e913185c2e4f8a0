/**
 * The example program of OpenSSL's ASYNC_start_job(3) man page,
 * ported line by line onto @async-job/openssl:
 * apps/example/src/main.ts (`pnpm example`). Importing it runs it,
 * so that the docs test checks its output.
 */
import "@async-job/example/main"
