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
 *   registered JavaScript callback is called with the fd number, unless the
 *   JavaScript run for an earlier fd of the same batch unwatched or re-watched
 *   it, or emptied it (then it stays watched). The epoll instance and the
 *   handle exist only while at least one fd is watched.
 *
 * Linux only (epoll, pipe2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
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
/*                                                                                                                  */
/* Every watch of an fd gets a fresh generation, carried in its epoll event next to the fd number. A batch of events */
/* is delivered one fd at a time, and JavaScript (with its microtasks) runs between two deliveries: it may stop     */
/* waiting on a later fd of the batch, close it, or watch it (or a new descriptor with its number) again. An event  */
/* is delivered only if the watch that produced it is still the fd's current one, and only if the fd is still      */
/* readable once JavaScript has run; otherwise the fd stays (or is again) watched.                                  */

typedef struct poller {
  uv_poll_t handle; /* first member: the handle's address is the poller's */
  int epfd;
  struct env_state* state; /* NULL once detached (idle or shutting down) */
} poller;

/* The watch of one fd number. gen == 0: not watched. registered: in the epoll set; otherwise reported by the batch */
/* being delivered and waiting for its turn. */
typedef struct watch_slot {
  uint32_t gen;
  uint8_t registered;
} watch_slot;

typedef struct env_state {
  napi_env env;
  uv_loop_t* loop;
  poller* active;
  int watched; /* registered slots */
  watch_slot* slots; /* by fd number */
  size_t slot_count;
  uint32_t next_gen;
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
/* Registrations die with the epoll fd; fds reported and waiting for their turn keep their slot. */
static void detach_poller(env_state* state) {
  poller* p = state->active;
  if (p == NULL) return;
  state->active = NULL;
  if (state->watched > 0) {
    for (size_t fd = 0; fd < state->slot_count; fd++) {
      if (state->slots[fd].registered) state->slots[fd] = (watch_slot){0, 0};
    }
  }
  state->watched = 0;
  uv_poll_stop(&p->handle);
  close(p->epfd);
  p->epfd = -1;
  state->closing++;
  uv_close((uv_handle_t*)&p->handle, on_poller_closed);
}

/* The slot of fd, growing the table if needed; NULL when out of memory. */
static watch_slot* slot_of(env_state* state, int fd) {
  if ((size_t)fd >= state->slot_count) {
    size_t count = state->slot_count == 0 ? 64 : state->slot_count;
    while (count <= (size_t)fd) count *= 2;
    watch_slot* grown = realloc(state->slots, count * sizeof *grown);
    if (grown == NULL) return NULL;
    memset(grown + state->slot_count, 0, (count - state->slot_count) * sizeof *grown);
    state->slots = grown;
    state->slot_count = count;
  }
  return &state->slots[fd];
}

/* The slot of fd if it has one (no allocation). */
static watch_slot* find_slot(env_state* state, int fd) {
  return fd >= 0 && (size_t)fd < state->slot_count ? &state->slots[fd] : NULL;
}

static uint64_t event_data(int fd, uint32_t gen) { return ((uint64_t)gen << 32) | (uint32_t)fd; }
static int event_fd(uint64_t data) { return (int)(uint32_t)data; }
static uint32_t event_gen(uint64_t data) { return (uint32_t)(data >> 32); }

static void on_epoll_readable(uv_poll_t* handle, int status, int events);

/* Creates the poller if there is none; 0 or an errno value, *syscall naming the failed call. */
static int ensure_poller(env_state* state, const char** syscall) {
  if (state->active != NULL) return 0;
  poller* p = calloc(1, sizeof *p);
  *syscall = "epoll_create1";
  if (p == NULL) return ENOMEM;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) {
    int err = errno;
    free(p);
    return err;
  }
  int rc = uv_poll_init(state->loop, &p->handle, p->epfd);
  if (rc != 0) {
    close(p->epfd);
    free(p);
    *syscall = "uv_poll_init";
    return -rc;
  }
  rc = uv_poll_start(&p->handle, UV_READABLE, on_epoll_readable);
  if (rc != 0) {
    close(p->epfd);
    p->state = NULL;
    uv_close((uv_handle_t*)&p->handle, on_poller_closed);
    *syscall = "uv_poll_start";
    return -rc;
  }
  p->state = state;
  state->active = p;
  state->watched = 0;
  return 0;
}

/*
 * Registers fd in the epoll set under generation gen: added, or modified when the slot says it is registered
 * already (so a repeated watch re-arms it rather than failing with EEXIST). One shot: the kernel disarms the
 * registration once it reports it, so a registration this code has lost track of can never spin. 0 or an errno.
 */
static int register_fd(env_state* state, int fd, uint32_t gen, const char** syscall) {
  *syscall = "epoll_ctl";
  /* the table grows to the largest fd number: only open ones (bounded by RLIMIT_NOFILE) get there */
  if (fcntl(fd, F_GETFD) < 0) return errno;
  watch_slot* slot = slot_of(state, fd);
  if (slot == NULL) return ENOMEM;
  int err = ensure_poller(state, syscall);
  if (err != 0) return err;
  *syscall = "epoll_ctl";
  struct epoll_event event;
  memset(&event, 0, sizeof event);
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = event_data(fd, gen);
  int epfd = state->active->epfd;
  int op = slot->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  int rc = epoll_ctl(epfd, op, fd, &event);
  /* the set and the slot disagree (the fd was closed and its number reused): use the other operation */
  if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
  else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST) rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event);
  if (rc != 0) {
    err = errno;
    if (slot->registered) {
      epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
      state->watched--;
    }
    *slot = (watch_slot){0, 0};
    if (state->watched <= 0) detach_poller(state);
    return err;
  }
  if (!slot->registered) state->watched++;
  *slot = (watch_slot){gen, 1};
  return 0;
}

static uint32_t fresh_gen(env_state* state) {
  if (++state->next_gen == 0) state->next_gen = 1;
  return state->next_gen;
}

/* Whether a read of fd would not block now (or fd is not open: the waiter finds out by reading). */
static int still_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int n;
  do {
    n = poll(&p, 1, 0);
  } while (n < 0 && errno == EINTR);
  return n != 0;
}

/* Reports a JavaScript exception thrown by the callback (process 'uncaughtException'); 0 if JavaScript cannot run. */
static int report_exception(napi_env env) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return 0;
  return napi_fatal_exception(env, error) == napi_ok;
}

static void dispatch(env_state* state, const struct epoll_event* ready, int count) {
  napi_env env = state->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[1], result;
  if (state->callback != NULL && napi_get_reference_value(env, state->callback, &callback) == napi_ok &&
      callback != NULL && napi_get_global(env, &receiver) == napi_ok) {
    int ran = 0; /* whether JavaScript has run since epoll_wait */
    for (int i = 0; i < count; i++) {
      if (state->shutting_down) break;
      int fd = event_fd(ready[i].data.u64);
      uint32_t gen = event_gen(ready[i].data.u64);
      watch_slot* slot = find_slot(state, fd);
      /* unwatched, or watched anew, since the batch was read: the event belongs to a watch that is gone */
      if (slot == NULL || slot->gen != gen || slot->registered) continue;
      if (ran && !still_readable(fd)) {
        /* JavaScript emptied it: keep waiting (if that fails, deliver, and the waiter finds out) */
        const char* syscall;
        if (register_fd(state, fd, gen, &syscall) == 0) continue;
      }
      *slot = (watch_slot){0, 0};
      if (napi_create_int32(env, fd, &argv[0]) != napi_ok) break;
      ran = 1;
      napi_status status = napi_make_callback(env, state->async_context, receiver, callback, 1, argv, &result);
      /* a throwing callback must not cost the rest of the batch its delivery, like a throwing timer */
      if (status == napi_pending_exception && !report_exception(env)) break;
      if (status != napi_ok && status != napi_pending_exception) break;
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
  for (int i = 0; i < n; i++) {
    int fd = event_fd(ready[i].data.u64);
    watch_slot* slot = find_slot(state, fd);
    if (slot == NULL || slot->gen != event_gen(ready[i].data.u64) || !slot->registered) continue;
    /* one shot: an fd reported readable is no longer watched, so a level-triggered fd cannot spin */
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
    slot->registered = 0;
    state->watched--;
  }
  /* release the epoll fd before any JavaScript runs: callers resumed by the callbacks see no extra fd */
  if (state->watched <= 0) detach_poller(state);
  dispatch(state, ready, n);
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
  free(state->slots);
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

/*
 * watch(fd): starts watching fd for readability, as a new watch: an event of an earlier watch of fd (in the batch
 * being delivered) is dropped. Watching an fd that is watched already re-arms it. Throws EPERM for regular files.
 */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  env_state* state = get_state(env);
  if (state == NULL || state->shutting_down) return throw_errno(env, "epoll_ctl", ESHUTDOWN);
  const char* syscall;
  int err = register_fd(state, fd, fresh_gen(state), &syscall);
  if (err != 0) return throw_errno(env, syscall, err);
  return NULL;
}

/* unwatch(fd): stops watching fd (also when it was reported and waits for its turn); returns whether it was watched */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  env_state* state = get_state(env);
  if (state == NULL) return make_bool(env, 0);
  watch_slot* slot = find_slot(state, fd);
  if (slot == NULL || slot->gen == 0) return make_bool(env, 0);
  if (slot->registered && state->active != NULL) {
    epoll_ctl(state->active->epfd, EPOLL_CTL_DEL, fd, NULL);
    state->watched--;
  }
  *slot = (watch_slot){0, 0};
  if (state->watched <= 0) detach_poller(state);
  return make_bool(env, 1);
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
