/*
 * exec_start: one more process in a running container (exec.h).
 *
 * Joining a PID namespace with setns() only moves the caller's future children into it, so the
 * process that joins cannot be the one that runs the command. Three processes take part:
 *
 *   caller ──fork──> joiner ──clone(CLONE_PARENT)──> command
 *
 * The joiner opens the container init's namespaces, takes the process's rlimits and oom_score_adj
 * (for the command to inherit), joins the container's cgroup, enters the namespaces, then
 * creates the command with CLONE_PARENT: the command becomes the caller's own child (not the
 * joiner's), already inside the container's PID namespace. The joiner sends its host pid back and
 * exits. So the pid exec_start returns is the command itself: the caller waits for it and its exit
 * status is the command's, signals sent to it reach the command, and no go-between has to relay
 * either (unlike an intermediate that waits and re-raises the exit).
 *
 * The command then takes its identity (directory, groups, user, capabilities, no_new_privs,
 * seccomp), its signals reset, and execs. Every failure before exec, in either process, reaches
 * the caller as one "what: why" message through a close-on-exec pipe, which closes with nothing
 * written once exec has succeeded.
 */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "caps.h"
#include "seccomp.h"
#include "util.h"

extern char **environ;

/* The namespaces an exec joins, mount last: once in the container's mounts, /proc/<init> and the
   host's cgroup files are no longer where we found them. */
static const struct {
  const char *name;
  int type;
} namespaces[] = {
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"cgroup", CLONE_NEWCGROUP}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define NNAMESPACES (sizeof namespaces / sizeof namespaces[0])

#define MSG_MAX 512

/* Writes "what: why" to the error pipe and ends the process; the caller reports it. */
static _Noreturn void fail(int err_fd, int code, int err, const char *fmt, ...) {
  char msg[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof msg && err != 0) {
    int m = snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
    n = m < 0 ? n : n + m;
  }
  if (n > 0 && write(err_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
    /* Nothing more to say: the caller sees an exit without a reason. */
  }
  _exit(code);
}

static int same_file(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The command's side, from its own creation to exec. Never returns. */
static _Noreturn void become_command(const struct exec_request *req, int err_fd) {
  /* Whatever the caller left open is not the command's: only stdio crosses exec. */
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) fail(err_fd, 127, errno, "close_range");
  /* Entering the mount namespace put us at its root; the directory is resolved from there. */
  const char *cwd = req->cwd ? req->cwd : "/";
  if (chdir("/") < 0 || chdir(cwd) < 0) fail(err_fd, 127, errno, "chdir %s", cwd);

  if (setgroups(req->nadditional_gids, req->additional_gids) < 0) fail(err_fd, 127, errno, "setgroups");
  if (setgid(req->gid) < 0) fail(err_fd, 127, errno, "setgid %u", (unsigned)req->gid);

  const struct spec_capabilities none = {0};
  const struct spec_capabilities *caps = req->caps ? req->caps : &none;
  if (caps_prepare(caps) < 0) fail(err_fd, 127, errno, "capabilities (bounding set)");
  /*
   * The kernel takes a seccomp filter only from a process with no_new_privs or CAP_SYS_ADMIN.
   * Without no_new_privs, install it now, while we are still uid 0 with every effective
   * capability; the filter then has to allow the few calls left before exec (setuid, capset,
   * prctl, rt_sigaction, rt_sigprocmask, execve), which any usable profile does. With
   * no_new_privs it goes last, so it needs to allow nothing but execve.
   */
  if (req->seccomp && !req->no_new_privileges && seccomp_install(req->seccomp) < 0)
    fail(err_fd, 127, errno, "seccomp");
  if (setuid(req->uid) < 0) fail(err_fd, 127, errno, "setuid %u", (unsigned)req->uid);
  if (caps_apply(caps) < 0) fail(err_fd, 127, errno, "capabilities");
  if (req->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(err_fd, 127, errno, "no_new_privs");
  /* Whatever the caller (a runtime forwarding signals through a signalfd, say) ignores or blocks
     is not the command's. */
  if (signals_reset() < 0) fail(err_fd, 127, errno, "reset signals");
  if (req->seccomp && req->no_new_privileges && seccomp_install(req->seccomp) < 0) fail(err_fd, 127, errno, "seccomp");

  /* execvp searches the PATH of environ, so the command is found on the container's PATH. */
  static char *empty[] = {NULL};
  environ = req->env ? req->env : empty;
  execvp(req->args[0], req->args);
  int err = errno;
  if (err == ENOENT && !strchr(req->args[0], '/'))
    fail(err_fd, 127, 0, "exec \"%s\": executable file not found in $PATH", req->args[0]);
  fail(err_fd, 127, err, "exec %s", req->args[0]);
}

/* The joiner: enters the container and creates the command as the caller's child. Never returns. */
static _Noreturn void join_and_spawn(const struct exec_request *req, int pid_fd, int err_fd) {
  /* All opened before any is entered: they are found through the host's /proc. A namespace the
     container shares with us is not entered again. */
  int fds[NNAMESPACES];
  for (size_t i = 0; i < NNAMESPACES; i++) {
    char path[64], self[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)req->init_pid, namespaces[i].name);
    snprintf(self, sizeof self, "/proc/self/ns/%s", namespaces[i].name);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0 && errno == ENOENT) fail(err_fd, 1, 0, "container init %d is not running", (int)req->init_pid);
    if (fds[i] < 0) fail(err_fd, 1, errno, "open %s", path);
    if (same_file(fds[i], self)) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  /* Limits set here, through the host's /proc, are inherited by the command as it is created. */
  const struct spec_rlimit *refused;
  if (rlimits_apply(req->rlimits, req->nrlimits, &refused) < 0) fail(err_fd, 1, errno, "rlimit %d", refused->resource);
  if (req->has_oom_score_adj && oom_score_adj_set(req->oom_score_adj) < 0) fail(err_fd, 1, errno, "oom_score_adj");
  /* Joined from here, where the host's cgroup files are still visible; the command inherits it. */
  if (req->cgroup && cgroup_join(req->cgroup, getpid()) < 0) fail(err_fd, 1, errno, "join the container's cgroup");
  for (size_t i = 0; i < NNAMESPACES; i++) {
    if (fds[i] < 0) continue;
    if (setns(fds[i], namespaces[i].type) < 0) fail(err_fd, 1, errno, "setns %s", namespaces[i].name);
    close(fds[i]);
  }
  /* Like fork(), but the child's parent is our caller. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) fail(err_fd, 1, errno, "clone");
  if (pid == 0) {
    close(pid_fd);
    become_command(req, err_fd);
  }
  if (write(pid_fd, &pid, sizeof pid) != sizeof pid) {
    kill(pid, SIGKILL);
    fail(err_fd, 1, errno, "report the command's pid");
  }
  _exit(0);
}

/* Reads until end of file (or buf is full); returns the length. */
static size_t read_all(int fd, char *buf, size_t size) {
  size_t len = 0;
  while (len < size) {
    ssize_t n = read(fd, buf + len, size - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  return len;
}

pid_t exec_start(const struct exec_request *req, char *err, size_t errlen) {
  if (!req->args || !req->args[0]) {
    snprintf(err, errlen, "no command given");
    return -1;
  }
  /* pid: the joiner tells us the command's pid. errors: either process says why it failed; it
     closes, empty, when the command execs. */
  int pid_pipe[2], err_pipe[2];
  if (pipe2(pid_pipe, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  if (pipe2(err_pipe, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    close(pid_pipe[0]);
    close(pid_pipe[1]);
    return -1;
  }
  pid_t joiner = fork();
  if (joiner == 0) {
    close(pid_pipe[0]);
    close(err_pipe[0]);
    join_and_spawn(req, pid_pipe[1], err_pipe[1]);
  }
  int fork_errno = errno;
  close(pid_pipe[1]);
  close(err_pipe[1]);
  pid_t pid = -1;
  char msg[MSG_MAX];
  size_t len = 0;
  if (joiner < 0) {
    len = (size_t)snprintf(msg, sizeof msg, "fork: %s", strerror(fork_errno));
  } else {
    int status = 0;
    while (waitpid(joiner, &status, 0) < 0 && errno == EINTR) {
    }
    if (read_all(pid_pipe[0], (char *)&pid, sizeof pid) != sizeof pid) pid = -1;
    /* Returns once the command has exec'd (the pipe closed empty) or has failed and said why. */
    len = read_all(err_pipe[0], msg, sizeof msg - 1);
    if (len == 0 && pid < 0)
      len = (size_t)snprintf(msg, sizeof msg, "the process joining the container ended without a reason (%s %d)",
                             WIFSIGNALED(status) ? "signal" : "exit",
                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  }
  close(pid_pipe[0]);
  close(err_pipe[0]);
  if (len == 0) return pid;
  msg[len] = '\0';
  /* The command failed before exec: it has exited (or is about to), and it is ours to reap. */
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  snprintf(err, errlen, "%s", msg);
  return -1;
}
