/*
 * Real OS wait fds for @async-job/platform-node.
 *
 * - pipe2(O_CLOEXEC | O_NONBLOCK) pairs, tracked process-wide so that `close`
 *   only ever closes a descriptor this addon created, and only once.
 * - Non-blocking one-byte reads and writes, a drain, and a poll(2) check.
 * - Readiness without consuming data: each JavaScript thread (Node-API env)
 *   owns a private epoll instance, watched by one libuv poll handle on that
 *   thread's loop. A watched fd is removed from the epoll set as soon as it is
 *   reported readable (one shot), so a level-triggered fd never spins, and the
 *   registered JavaScript callback is called with the fd number. The epoll
 *   instance and the handle exist only while at least one fd is watched.
 *
 * Linux only (epoll, pipe2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return NULL;                                                                                \
  } while (0)

/* ---------------------------------------------------------------------------------------------------------------- */
/* Descriptors created here, process-wide (worker threads share the process's fd table).                           */

static pthread_mutex_t owned_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char* owned = NULL;
static size_t owned_size = 0;

static int owned_add(int fd) {
  int ok = 1;
  pthread_mutex_lock(&owned_lock);
  if ((size_t)fd >= owned_size) {
    size_t size = owned_size == 0 ? 256 : owned_size;
    while (size <= (size_t)fd) size *= 2;
    unsigned char* grown = realloc(owned, size);
    if (grown == NULL) {
      ok = 0;
    } else {
      memset(grown + owned_size, 0, size - owned_size);
      owned = grown;
      owned_size = size;
    }
  }
  if (ok) owned[fd] = 1;
  pthread_mutex_unlock(&owned_lock);
  return ok;
}

static int owned_has(int fd) {
  pthread_mutex_lock(&owned_lock);
  int has = fd >= 0 && (size_t)fd < owned_size && owned[fd];
  pthread_mutex_unlock(&owned_lock);
  return has;
}

/* Closes fd if it is owned; returns 1 if this call closed it. */
static int owned_close(int fd) {
  int closed = 0;
  pthread_mutex_lock(&owned_lock);
  if (fd >= 0 && (size_t)fd < owned_size && owned[fd]) {
    owned[fd] = 0;
    /* close(2) releases the number even when it reports EINTR on Linux: never retry */
    close(fd);
    closed = 1;
  }
  pthread_mutex_unlock(&owned_lock);
  return closed;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Errors                                                                                                          */

static napi_value throw_errno(napi_env env, const char* syscall, int err) {
  napi_value code, message, error, value;
  const char* name = uv_err_name(-err);
  char text[256];
  snprintf(text, sizeof text, "%s %s: %s", syscall, name, uv_strerror(-err));
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &error) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (napi_create_int32(env, err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  napi_throw(env, error);
  return NULL;
}

static int fd_arg(napi_env env, napi_callback_info info, int* fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a non-negative integer file descriptor");
    return 0;
  }
  return 1;
}

static napi_value make_bool(napi_env env, int b) {
  napi_value v;
  CHECK(napi_get_boolean(env, b, &v));
  return v;
}

static napi_value make_int(napi_env env, int n) {
  napi_value v;
  CHECK(napi_create_int32(env, n, &v));
  return v;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Synchronous fd operations                                                                                       */

static napi_value js_pipe(napi_env env, napi_callback_info info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return throw_errno(env, "pipe2", errno);
  if (!owned_add(fds[0])) {
    close(fds[0]);
    close(fds[1]);
    return throw_errno(env, "pipe2", ENOMEM);
  }
  if (!owned_add(fds[1])) {
    owned_close(fds[0]);
    close(fds[1]);
    return throw_errno(env, "pipe2", ENOMEM);
  }
  napi_value result;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_set_element(env, result, 0, make_int(env, fds[0])));
  CHECK(napi_set_element(env, result, 1, make_int(env, fds[1])));
  return result;
}

/* true: written; false: the pipe is full (it is readable anyway) */
static napi_value js_write_byte(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  const unsigned char byte = 1;
  for (;;) {
    ssize_t n = write(fd, &byte, 1);
    if (n == 1) return make_bool(env, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return make_bool(env, 0);
    return throw_errno(env, "write", n < 0 ? errno : EIO);
  }
}

/* 1: a byte was read; 0: nothing to read now; -1: end of file (every write end closed) */
static napi_value js_read_byte(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  unsigned char byte;
  for (;;) {
    ssize_t n = read(fd, &byte, 1);
    if (n == 1) return make_int(env, 1);
    if (n == 0) return make_int(env, -1);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, 0);
    return throw_errno(env, "read", errno);
  }
}

/* Reads everything available without blocking; returns the number of bytes read. */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  unsigned char buffer[512];
  double total = 0;
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      total += (double)n;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return throw_errno(env, "read", errno);
  }
  napi_value v;
  CHECK(napi_create_double(env, total, &v));
  return v;
}

/* Whether a read would not block right now (data, end of file or an error pending): select(2) with a zero timeout. */
static napi_value js_is_readable(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int n;
  do {
    n = poll(&p, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "poll", errno);
  if (p.revents & POLLNVAL) return throw_errno(env, "poll", EBADF);
  return make_bool(env, (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0);
}

static napi_value js_is_owned(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  return make_bool(env, owned_has(fd));
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  return make_bool(env, owned_close(fd));
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Readiness: one private epoll set per env, watched by one uv_poll_t while it is not empty                        */

typedef struct poller {
  uv_poll_t handle; /* first member: the handle's address is the poller's */
  int epfd;
  struct env_state* state; /* NULL once detached (idle or shutting down) */
} poller;

typedef struct env_state {
  napi_env env;
  uv_loop_t* loop;
  poller* active;
  int watched;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  int closing; /* pollers closing whose close callback has not run */
  int shutting_down;
} env_state;

static void maybe_finish_cleanup(env_state* state) {
  if (state->shutting_down && state->closing == 0 && state->cleanup_hook != NULL) {
    napi_async_cleanup_hook_handle hook = state->cleanup_hook;
    state->cleanup_hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
}

static void on_poller_closed(uv_handle_t* handle) {
  poller* p = (poller*)handle;
  env_state* state = p->state;
  free(p);
  if (state != NULL) {
    state->closing--;
    maybe_finish_cleanup(state);
  }
}

/* Stops the handle (removing the epoll fd from libuv's set at once), closes the epoll fd, frees the handle later. */
static void detach_poller(env_state* state) {
  poller* p = state->active;
  if (p == NULL) return;
  state->active = NULL;
  state->watched = 0;
  uv_poll_stop(&p->handle);
  close(p->epfd);
  p->epfd = -1;
  state->closing++;
  uv_close((uv_handle_t*)&p->handle, on_poller_closed);
}

static void dispatch(env_state* state, const int* fds, int count) {
  napi_env env = state->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[1], result;
  if (state->callback != NULL && napi_get_reference_value(env, state->callback, &callback) == napi_ok &&
      callback != NULL && napi_get_global(env, &receiver) == napi_ok) {
    for (int i = 0; i < count; i++) {
      if (state->shutting_down) break;
      if (napi_create_int32(env, fds[i], &argv[0]) != napi_ok) break;
      napi_status status = napi_make_callback(env, state->async_context, receiver, callback, 1, argv, &result);
      if (status == napi_pending_exception) {
        napi_value error;
        napi_get_and_clear_last_exception(env, &error);
        napi_fatal_exception(env, error);
        break;
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_epoll_readable(uv_poll_t* handle, int status, int events) {
  poller* p = (poller*)handle;
  env_state* state = p->state;
  if (state == NULL || state->active != p) return;
  struct epoll_event ready[64];
  int n;
  do {
    n = epoll_wait(p->epfd, ready, 64, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  int fds[64];
  for (int i = 0; i < n; i++) {
    fds[i] = ready[i].data.fd;
    /* one shot: an fd reported readable is no longer watched, so a level-triggered fd cannot spin */
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fds[i], NULL);
    state->watched--;
  }
  /* release the epoll fd before any JavaScript runs: callers resumed by the callbacks see no extra fd */
  if (state->watched <= 0) detach_poller(state);
  dispatch(state, fds, n);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void* data) {
  env_state* state = data;
  state->shutting_down = 1;
  detach_poller(state);
  maybe_finish_cleanup(state);
}

static void on_env_teardown(napi_env env, void* data, void* hint) {
  env_state* state = data;
  if (state->callback != NULL) napi_delete_reference(env, state->callback);
  if (state->async_context != NULL) napi_async_destroy(env, state->async_context);
  free(state);
}

static env_state* get_state(napi_env env) {
  void* data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* setCallback(fn): fn(fd) is called, once per watch, when a watched fd becomes readable */
static napi_value js_set_callback(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  env_state* state = get_state(env);
  if (state == NULL) return NULL;
  if (state->callback != NULL) {
    napi_delete_reference(env, state->callback);
    state->callback = NULL;
  }
  CHECK(napi_create_reference(env, argv[0], 1, &state->callback));
  return NULL;
}

/* watch(fd): starts watching fd for readability; throws EEXIST if already watched, EPERM for regular files */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  env_state* state = get_state(env);
  if (state == NULL || state->shutting_down) return throw_errno(env, "epoll_ctl", ESHUTDOWN);
  int created = 0;
  if (state->active == NULL) {
    poller* p = calloc(1, sizeof *p);
    if (p == NULL) return throw_errno(env, "epoll_create1", ENOMEM);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
      int err = errno;
      free(p);
      return throw_errno(env, "epoll_create1", err);
    }
    int rc = uv_poll_init(state->loop, &p->handle, p->epfd);
    if (rc != 0) {
      close(p->epfd);
      free(p);
      return throw_errno(env, "uv_poll_init", -rc);
    }
    rc = uv_poll_start(&p->handle, UV_READABLE, on_epoll_readable);
    if (rc != 0) {
      close(p->epfd);
      p->state = NULL;
      uv_close((uv_handle_t*)&p->handle, on_poller_closed);
      return throw_errno(env, "uv_poll_start", -rc);
    }
    p->state = state;
    state->active = p;
    state->watched = 0;
    created = 1;
  }
  struct epoll_event event;
  memset(&event, 0, sizeof event);
  event.events = EPOLLIN;
  event.data.fd = fd;
  if (epoll_ctl(state->active->epfd, EPOLL_CTL_ADD, fd, &event) != 0) {
    int err = errno;
    if (created) detach_poller(state);
    return throw_errno(env, "epoll_ctl", err);
  }
  state->watched++;
  return NULL;
}

/* unwatch(fd): stops watching fd; returns whether it was watched */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  env_state* state = get_state(env);
  if (state == NULL || state->active == NULL) return make_bool(env, 0);
  int removed = epoll_ctl(state->active->epfd, EPOLL_CTL_DEL, fd, NULL) == 0;
  if (removed) state->watched--;
  if (state->watched <= 0) detach_poller(state);
  return make_bool(env, removed);
}

/* watchCount(): how many fds this thread watches now */
static napi_value js_watch_count(napi_env env, napi_callback_info info) {
  env_state* state = get_state(env);
  return make_int(env, state == NULL || state->active == NULL ? 0 : state->watched);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  env_state* state = calloc(1, sizeof *state);
  if (state == NULL) return NULL;
  state->env = env;
  if (napi_get_uv_event_loop(env, &state->loop) != napi_ok ||
      napi_set_instance_data(env, state, on_env_teardown, NULL) != napi_ok) {
    free(state);
    return NULL;
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "AsyncJobFdWatch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &state->async_context));
  CHECK(napi_add_async_cleanup_hook(env, on_env_cleanup, state, &state->cleanup_hook));

  napi_property_descriptor properties[] = {
      {"pipe", NULL, js_pipe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeByte", NULL, js_write_byte, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readByte", NULL, js_read_byte, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drain", NULL, js_drain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isReadable", NULL, js_is_readable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isOwned", NULL, js_is_owned, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setCallback", NULL, js_set_callback, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchCount", NULL, js_watch_count, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}
