{
  "targets": [
    {
      "target_name": "async_job_fd",
      "sources": ["native/async_job_fd.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
