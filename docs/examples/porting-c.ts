/**
 * A small C driver ported to @async-job/openssl: pool limits, PAUSE
 * / NO_JOBS / FINISH, a job function that throws (ASYNC_ERR and
 * `job.error`), and ASYNC_cleanup_thread cancelling a paused job.
 */
import {
  ASYNC_cleanup_thread,
  ASYNC_ERR,
  ASYNC_FINISH,
  ASYNC_init_thread,
  type ASYNC_JOB,
  ASYNC_NO_JOBS,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_start_job,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_new
} from "@async-job/openssl"

const names: Record<number, string> = {
  [ASYNC_ERR]: "ASYNC_ERR",
  [ASYNC_NO_JOBS]: "ASYNC_NO_JOBS",
  [ASYNC_PAUSE]: "ASYNC_PAUSE",
  [ASYNC_FINISH]: "ASYNC_FINISH"
}

// static int add_one(void *args)
async function add_one(args: Int32Array): Promise<number> {
  const n = args[0]!
  await ASYNC_pause_job()
  return n + 1
}

async function fails(): Promise<number> {
  throw new Error("engine failure")
}

async function holds(): Promise<number> {
  try {
    await ASYNC_pause_job()
    return 1
  } finally {
    console.log("holds: finally ran")
  }
}

// at most one job outstanding, one created now
ASYNC_init_thread(1, 1)
const ctx = ASYNC_WAIT_CTX_new()
const job: { value: ASYNC_JOB | null; error?: unknown } = {
  value: null
}
const other: { value: ASYNC_JOB | null; error?: unknown } = {
  value: null
}
const ret = { value: 0 }
const n = Int32Array.of(41)

console.log(
  names[
    await ASYNC_start_job(job, ctx, ret, add_one, n, n.byteLength)
  ]
) // the job pauses
console.log(
  names[
    await ASYNC_start_job(other, ctx, ret, add_one, n, n.byteLength)
  ]
) // the pool is full
console.log(
  names[
    await ASYNC_start_job(job, ctx, ret, add_one, n, n.byteLength)
  ],
  ret.value
)

console.log(
  names[await ASYNC_start_job(job, ctx, ret, fails, null)],
  String(job.error)
)

// paused, then abandoned:
await ASYNC_start_job(job, ctx, ret, holds, null)
// cancels it; its finally block runs before this resolves
await ASYNC_cleanup_thread()
console.log(
  `after cleanup: ${
    names[await ASYNC_start_job(job, ctx, ret, holds, null)]
  } (stale handle)`
)

await ASYNC_WAIT_CTX_free(ctx)
await ASYNC_cleanup_thread()
