#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "json.h"
#include "util.h"

#define CHILD_STACK (256 * 1024)
/* Docker splits lines longer than this into several records; so do we. */
#define MAX_LINE (16 * 1024)

static void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* The init's first word: 'R' (ready), or 'E' and why it failed, or nothing if it just died. */
static int wait_ready(int fd, char *err, size_t errlen) {
  char msg[1024];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (msg[0] == 'R' || len == sizeof msg - 1) break;
  }
  if (len > 0 && msg[0] == 'R') return 0;
  msg[len] = '\0';
  snprintf(err, errlen, "%s", len > 1 ? msg + 1 : "the container's init exited during setup");
  return -1;
}

static int fail_start(struct supervisor *s, char *err, size_t errlen, const char *what, int error) {
  if (what) snprintf(err, errlen, "%s: %s", what, strerror(error));
  if (s->has_cgroup) cgroup_remove(&s->cgroup);
  s->has_cgroup = false;
  return -1;
}

int supervisor_start(struct supervisor *s, char *err, size_t errlen) {
  const struct spec *spec = s->spec;
  s->out_fd = s->err_fd = s->log_fd = -1;
  s->has_cgroup = false;
  s->dns = NULL;
  signal(SIGPIPE, SIG_IGN);

  if (spec->log_path) {
    s->log_fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (s->log_fd < 0) return fail_start(s, err, errlen, spec->log_path, errno);
    struct stat st;
    s->log_size = fstat(s->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  }
  char why[512];
  if (cgroup_create(s->cgroups_path, &spec->resources, &s->cgroup, why, sizeof why) < 0) {
    snprintf(err, errlen, "cgroup %s: %s", s->cgroups_path, why);
    return -1;
  }
  s->has_cgroup = true;

  int out[2] = {-1, -1}, errp[2] = {-1, -1}, sync[2], report[2];
  if (spec->log_path && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0))
    return fail_start(s, err, errlen, "pipe", errno);
  if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) return fail_start(s, err, errlen, "pipe", errno);

  /* Blocked before clone so no signal is lost; signalfd delivers them into the poll loop. */
  sigset_t mask;
  if (s->forward_signals) forwarded_signals(&mask);
  else sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (s->signal_fd < 0) return fail_start(s, err, errlen, "signalfd", errno);

  /* A PID namespace to join applies to the children of whoever joins it: the init, next. */
  for (size_t i = 0; i < spec->nnamespaces; i++) {
    if (spec->namespaces[i].type != CLONE_NEWPID || !spec->namespaces[i].path) continue;
    int fd = open(spec->namespaces[i].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail_start(s, err, errlen, spec->namespaces[i].path, errno);
    int r = setns(fd, CLONE_NEWPID);
    close(fd);
    if (r < 0) return fail_start(s, err, errlen, spec->namespaces[i].path, errno);
  }

  struct init_args args = {
      .spec = spec,
      .cgroup = &s->cgroup,
      .fifo_path = s->fifo_path,
      .sync_fd = sync[0],
      .report_fd = report[1],
      .out_fd = out[1],
      .err_fd = errp[1],
  };
  void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return fail_start(s, err, errlen, "mmap", errno);
  s->init = clone(container_main, (char *)stack + CHILD_STACK, container_clone_flags(spec) | SIGCHLD, &args);
  int clone_errno = errno;
  munmap(stack, CHILD_STACK);
  close(sync[0]);
  close(report[1]);
  if (spec->log_path) close(out[1]), close(errp[1]);
  if (s->init < 0) return fail_start(s, err, errlen, "clone", clone_errno);
  s->init_start_time = proc_start_time(s->init);

  /* The init waits for this byte, so everything it does is accounted to the container's cgroup. */
  if (cgroup_join(&s->cgroup, s->init) < 0) {
    int e = errno;
    kill_and_reap(s->init);
    return fail_start(s, err, errlen, "join the cgroup", e);
  }
  if (write_all(sync[1], "G", 1) < 0) {
    int e = errno;
    kill_and_reap(s->init);
    return fail_start(s, err, errlen, "start the init", e);
  }
  close(sync[1]);
  int ready = wait_ready(report[0], err, errlen);
  close(report[0]);
  if (ready < 0) {
    kill_and_reap(s->init);
    return fail_start(s, err, errlen, NULL, 0);
  }
  /* Listening before `create` returns, so the container's first query finds the relay. */
  if (spec->dns_relay) {
    s->dns = dns_relay_open(s->init, spec->dns_relay, s->id, err, errlen);
    if (!s->dns) {
      kill_and_reap(s->init);
      return fail_start(s, err, errlen, NULL, 0);
    }
  }
  s->out_fd = out[0];
  s->err_fd = errp[0];
  return 0;
}

/* ---- the log ---- */

struct stream {
  const char *name;
  int fd;
  char buf[MAX_LINE];
  size_t len;
};

/*
 * path -> path.1 -> path.2 ..., keeping max_files files in all; with one file it starts anew, as
 * Docker's json-file driver does with max-file=1.
 */
static void rotate(struct supervisor *s) {
  const struct spec *spec = s->spec;
  s->log_size = 0;
  if (spec->log_max_files <= 1) {
    if (ftruncate(s->log_fd, 0) < 0) {
      /* Keep writing; a log that cannot shrink is still a log. */
    }
    return;
  }
  char from[4096], to[4096];
  for (unsigned i = spec->log_max_files - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", spec->log_path);
    else snprintf(from, sizeof from, "%s.%u", spec->log_path, i - 1);
    snprintf(to, sizeof to, "%s.%u", spec->log_path, i);
    rename(from, to);
  }
  int fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return; /* The old descriptor still works (it now writes path.1). */
  close(s->log_fd);
  s->log_fd = fd;
}

/* One JSON line per record, as Docker's json-file driver writes them; bytes that are not UTF-8
   become U+FFFD so the file stays valid JSON. */
static void emit(struct supervisor *s, const char *stream, const char *data, size_t len) {
  /* Worst case per input byte: "\ufffd" (6 bytes); plus the fixed fields. */
  static char out[MAX_LINE * 6 + 256];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char now[40];
  format_time(now, sizeof now, &ts);
  size_t o = (size_t)snprintf(out, 128, "{\"time\":\"%s\",\"stream\":\"%s\",\"log\":\"", now, stream);
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < len;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') out[o++] = '\\', out[o++] = (char)c, i++;
    else if (c == '\n') out[o++] = '\\', out[o++] = 'n', i++;
    else if (c == '\r') out[o++] = '\\', out[o++] = 'r', i++;
    else if (c == '\t') out[o++] = '\\', out[o++] = 't', i++;
    else if (c < 0x20) o += (size_t)sprintf(out + o, "\\u%04x", c), i++;
    else {
      size_t n = utf8_length(p + i, len - i);
      if (n == 0) {
        memcpy(out + o, "\\ufffd", 6);
        o += 6;
        i++;
      } else {
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
      }
    }
  }
  memcpy(out + o, "\"}\n", 3);
  o += 3;
  if (s->spec->log_max_size && s->log_size > 0 && s->log_size + o > s->spec->log_max_size) rotate(s);
  /* A full or broken log must not stop the container being supervised. */
  if (write_all(s->log_fd, out, o) == 0) s->log_size += o;
}

/* Reads what is available; returns 0 at end of stream. Whole lines are logged as they complete. */
static int pump(struct supervisor *s, struct stream *st) {
  ssize_t n = read(st->fd, st->buf + st->len, sizeof st->buf - st->len);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) {
    if (st->len > 0) emit(s, st->name, st->buf, st->len);
    st->len = 0;
    return 0;
  }
  st->len += (size_t)n;
  size_t start = 0;
  for (size_t i = st->len - (size_t)n; i < st->len; i++) {
    if (st->buf[i] != '\n') continue;
    emit(s, st->name, st->buf + start, i + 1 - start);
    start = i + 1;
  }
  memmove(st->buf, st->buf + start, st->len - start);
  st->len -= start;
  if (st->len == sizeof st->buf) {
    emit(s, st->name, st->buf, st->len);
    st->len = 0;
  }
  return 1;
}

/* ---- supervising ---- */

int supervisor_run(struct supervisor *s) {
  static struct stream out = {.name = "stdout"}, err = {.name = "stderr"};
  out.fd = s->out_fd;
  err.fd = s->err_fd;
  /* stopping: 0 running, 1 stop signal sent (SIGKILL due at kill_at), 2 SIGKILL sent. */
  int status = 0, exited = 0, stopping = 0;
  struct timespec kill_at = {0};
  /* With a PID namespace, the kernel kills the rest of it when init exits: both pipes reach EOF. */
  while (!exited || out.fd >= 0 || err.fd >= 0) {
    struct pollfd fds[3 + DNS_RELAY_POLLFDS] = {{s->signal_fd, POLLIN, 0}, {out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}};
    nfds_t nfds = 3;
    int timeout = -1;
    if (stopping == 1 && !exited) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long ms = (kill_at.tv_sec - now.tv_sec) * 1000 + (kill_at.tv_nsec - now.tv_nsec) / 1000000;
      if (ms <= 0) {
        kill(s->init, SIGKILL);
        stopping = 2;
      } else timeout = (int)ms;
    }
    if (s->dns) nfds += dns_relay_prepare(s->dns, fds + 3, &timeout);
    if (poll(fds, nfds, timeout) < 0 && errno != EINTR) break;
    if (fds[1].revents && !pump(s, &out)) close(out.fd), out.fd = -1;
    if (fds[2].revents && !pump(s, &err)) close(err.fd), err.fd = -1;
    if (s->dns) dns_relay_handle(s->dns, fds + 3, nfds - 3);
    if (!fds[0].revents) continue;
    struct signalfd_siginfo si;
    if (read(s->signal_fd, &si, sizeof si) != sizeof si) continue;
    if (si.ssi_signo == SIGCHLD) {
      int st;
      if (!exited && waitpid(s->init, &st, WNOHANG) == s->init) {
        status = st, exited = 1;
        /* The container is over; its namespace goes once nothing holds it, these sockets included. */
        dns_relay_close(s->dns);
        s->dns = NULL;
      }
    } else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !exited) {
      kill(s->init, s->spec->stop_signal);
      /* The grace period runs from the first stop request; repeats only resend the signal. */
      if (!stopping) {
        clock_gettime(CLOCK_MONOTONIC, &kill_at);
        kill_at.tv_sec += s->spec->stop_timeout;
        stopping = 1;
      }
    } else if (s->forward_signals && !exited && si.ssi_pid != (uint32_t)getpid()) {
      /* Passed on as runc does; not one this process raised on itself (SIGPIPE from a write to a
         log that is a closed pipe, say), which is nobody's message to the container. */
      kill(s->init, (int)si.ssi_signo);
    }
  }
  int code = exit_code(status);
  if (s->exit_path) {
    bool oom = s->has_cgroup && cgroup_oom_kills(&s->cgroup) > 0;
    char record[64];
    int n = snprintf(record, sizeof record, "{\"exitCode\":%d,\"oomKilled\":%s}\n", code, oom ? "true" : "false");
    write_file_atomic(s->exit_path, record, (size_t)n, 0644);
  }
  return code;
}

int exit_record_read(const char *path, int *code, bool *oom_killed) {
  char *text;
  size_t len;
  if (read_file(path, &text, &len) < 0) return -1;
  char why[128];
  struct json *j = json_parse(text, len, why, sizeof why);
  int64_t n;
  struct json *oom = json_get(j, "oomKilled");
  if (!j || json_int64(json_get(j, "exitCode"), &n) < 0 || !oom || oom->type != JSON_BOOL) return errno = EINVAL, -1;
  *code = (int)n;
  *oom_killed = oom->boolean;
  return 0;
}
