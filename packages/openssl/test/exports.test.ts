/**
 * The facade exports exactly the names of issue 3 §1, and nothing else.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, deepStrictEqual } from "@effect/vitest/utils"

describe("exports", () => {
  it("exactly the names of issue 3 §1", async () => {
    const api = await import("../src/index.js")
    deepStrictEqual(
      Object.keys(api).sort(),
      [
        "ASYNC_ERR",
        "ASYNC_FINISH",
        "ASYNC_NO_JOBS",
        "ASYNC_PAUSE",
        "ASYNC_STATUS_EAGAIN",
        "ASYNC_STATUS_ERR",
        "ASYNC_STATUS_OK",
        "ASYNC_STATUS_UNSUPPORTED",
        "ASYNC_WAIT_CTX_clear_fd",
        "ASYNC_WAIT_CTX_free",
        "ASYNC_WAIT_CTX_get_all_fds",
        "ASYNC_WAIT_CTX_get_callback",
        "ASYNC_WAIT_CTX_get_changed_fds",
        "ASYNC_WAIT_CTX_get_fd",
        "ASYNC_WAIT_CTX_get_status",
        "ASYNC_WAIT_CTX_new",
        "ASYNC_WAIT_CTX_set_callback",
        "ASYNC_WAIT_CTX_set_status",
        "ASYNC_WAIT_CTX_set_wait_fd",
        "ASYNC_block_pause",
        "ASYNC_cleanup_thread",
        "ASYNC_get_current_job",
        "ASYNC_get_wait_ctx",
        "ASYNC_init_thread",
        "ASYNC_is_capable",
        "ASYNC_pause_job",
        "ASYNC_start_job",
        "ASYNC_unblock_pause"
      ].sort()
    )
    deepStrictEqual(
      [api.ASYNC_ERR, api.ASYNC_NO_JOBS, api.ASYNC_PAUSE, api.ASYNC_FINISH],
      [0, 1, 2, 3]
    )
    deepStrictEqual(
      [api.ASYNC_STATUS_UNSUPPORTED, api.ASYNC_STATUS_ERR, api.ASYNC_STATUS_OK, api.ASYNC_STATUS_EAGAIN],
      [0, 1, 2, 3]
    )
    assertFalse("ASYNC_set_mem_functions" in api)
  })
})
