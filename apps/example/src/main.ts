/**
 * The example program of OpenSSL's `ASYNC_start_job(3)` man page,
 * ported line by line onto `@async-job/openssl`. The pipe, `write`,
 * `read`, `close` and `select` come from `@async-job/platform-node`
 * (real OS descriptors).
 *
 * Expected output (the man page's own):
 *
 * ```
 * Starting...
 * Executing within a job
 * Passed in message is: Hello world!
 * Job was paused
 * Waiting for the job to be woken up
 * Resumed the job after a pause
 * Job finished with return value 1
 * Finishing
 * ```
 *
 * @since 0.1.0
 */
import {
  ASYNC_ERR,
  ASYNC_FINISH,
  ASYNC_get_current_job,
  ASYNC_get_wait_ctx,
  type ASYNC_JOB,
  ASYNC_NO_JOBS,
  ASYNC_PAUSE,
  ASYNC_pause_job,
  ASYNC_start_job,
  type ASYNC_WAIT_CTX,
  ASYNC_WAIT_CTX_free,
  ASYNC_WAIT_CTX_get_all_fds,
  ASYNC_WAIT_CTX_new,
  ASYNC_WAIT_CTX_set_wait_fd,
  type OSSL_ASYNC_FD
} from "@async-job/openssl"
import { NodeWaitFd } from "@async-job/platform-node"
import { cString, printf, reportOpenFds } from "./stdio.js"

const fdsAtStart = reportOpenFds.start()

const unique = {}

function cleanup(
  _ctx: ASYNC_WAIT_CTX,
  _key: unknown,
  r: OSSL_ASYNC_FD,
  vw: unknown
): void {
  const w = vw as { value: OSSL_ASYNC_FD }

  NodeWaitFd.close(r)
  NodeWaitFd.close(w.value)
  // OPENSSL_free(w): the garbage collector's job
}

async function jobfunc(arg: Uint8Array): Promise<number> {
  let pipefds: [number, number] = [0, 0]

  const currjob: ASYNC_JOB | null = ASYNC_get_current_job()
  if (currjob !== null) {
    printf("Executing within a job\n")
  } else {
    printf("Not executing within a job - should not happen\n")
    return 0
  }

  const msg = arg
  printf(`Passed in message is: ${cString(msg)}\n`)

  /*
   * Create a way to inform the calling thread when this job is
   * ready to resume, in this example we're using file descriptors.
   * For offloading the task to an asynchronous ENGINE it's not
   * necessary, the ENGINE should handle that internally.
   */

  try {
    pipefds = NodeWaitFd.pipe()
  } catch {
    printf("Failed to create pipe\n")
    return 0
  }
  const wptr = { value: pipefds[1] }
  ASYNC_WAIT_CTX_set_wait_fd(
    ASYNC_get_wait_ctx(currjob),
    unique,
    pipefds[0],
    wptr,
    cleanup
  )

  /*
   * Normally some external event would cause this to happen at some
   * later point - but we do it here for demo purposes, i.e.
   * immediately signalling that the job is ready to be woken up
   * after we return to main via ASYNC_pause_job().
   */
  NodeWaitFd.writeByte(pipefds[1])

  /*
   * Return control back to main just for the sake of showing that
   * async jobs can be resumed. In more realistic scenarios
   * ASYNC_pause_job() needs to be called from the actual
   * async ENGINE or the provider.
   */
  await ASYNC_pause_job()

  /* Clear the wake signal */
  try {
    NodeWaitFd.readByte(pipefds[0])
  } catch {
    return 0
  }
  printf("Resumed the job after a pause\n")

  return 1
}

async function main(): Promise<number> {
  const job: { value: ASYNC_JOB | null } = { value: null }
  const ret = { value: 0 }
  const waitfd: Array<OSSL_ASYNC_FD> = [0]
  const numfds = { value: 0 }
  const msg = new Uint8Array(13)
  new TextEncoder().encodeInto("Hello world!", msg)

  printf("Starting...\n")

  const ctx = ASYNC_WAIT_CTX_new()
  if (ctx === null) {
    printf("Failed to create ASYNC_WAIT_CTX\n")
    process.abort()
  }

  end: for (;;) {
    switch (
      await ASYNC_start_job(
        job,
        ctx,
        ret,
        jobfunc,
        msg,
        msg.byteLength
      )
    ) {
      case ASYNC_ERR:
      case ASYNC_NO_JOBS:
        printf("An error occurred\n")
        break end
      case ASYNC_PAUSE:
        printf("Job was paused\n")
        break
      case ASYNC_FINISH:
        printf(`Job finished with return value ${ret.value}\n`)
        break end
    }

    /* Wait for the job to be woken */
    printf("Waiting for the job to be woken up\n")

    if (
      !ASYNC_WAIT_CTX_get_all_fds(ctx, null, numfds) ||
      numfds.value > 1
    ) {
      printf("Unexpected number of fds\n")
      process.abort()
    }
    ASYNC_WAIT_CTX_get_all_fds(ctx, waitfd, numfds)
    // select(waitfd + 1, &waitfdset, NULL, NULL, NULL)
    await NodeWaitFd.waitReadable(waitfd[0]!)
  }

  await ASYNC_WAIT_CTX_free(ctx)
  printf("Finishing\n")

  return 0
}

process.exitCode = await main()
reportOpenFds.end(fdsAtStart)
