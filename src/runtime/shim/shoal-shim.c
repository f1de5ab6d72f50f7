/*
 * shoal-shim: starts one container in its own namespaces and stays as its supervisor.
 *
 * Usage: shoal-shim <config-file>
 *
 * The config is line-based (key=value, the value runs to the end of the line) so that the shim
 * needs no parser beyond libc; the Node side (src/runtime/container/config.ts) writes it:
 *   rootfs=/abs/dir      root directory of the container (a plain directory for now)
 *   hostname=name        cwd=/dir        uid=0        gid=0        group=N (repeated, extra groups)
 *   env=K=V (repeated)   arg=... (repeated, at least one; arg 0 is looked up on the container PATH)
 *   netns=/path          optional: a network namespace to join (e.g. /run/netns/x)
 *   log=/path            JSON-lines log of the container's stdout and stderr
 *   exit=/path           written atomically with the exit code (or 128+signal) when it ends
 *   pid=/path            written atomically with "<supervisor pid>\n<container init pid>\n"
 *   stop_signal=15       what SIGTERM/SIGINT to the supervisor is forwarded as
 *   stop_timeout=10      seconds after forwarding before SIGKILL (a PID-namespace init ignores
 *                        signals it has no handler for, so `sleep` would otherwise never stop)
 *
 * Processes: the command (the launcher) forks the supervisor and waits until it reports that the
 * container exec'd (exit 0) or failed (message on stderr, exit 1). The supervisor calls setsid()
 * and detaches from the launcher's stdio, so it outlives the worker that started it; it clone()s
 * the container's init into new mount, UTS, IPC and PID namespaces, copies its output into the
 * log, forwards stop signals, reaps it and records the exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 1024
#define CHILD_STACK (256 * 1024)
/* Docker splits lines longer than this into several records; so do we. */
#define MAX_LINE (16 * 1024)

struct config {
  char *rootfs, *hostname, *cwd, *netns, *log, *exit_file, *pid_file;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_LIST];
  size_t ngroups;
  char *env[MAX_LIST + 1];
  size_t nenv;
  char *args[MAX_LIST + 1];
  size_t nargs;
  int stop_signal;
  int stop_timeout;
};

static struct config cfg;
/* The container's ends of the output pipes and the write end of its start-error pipe. */
static int out_pipe[2], err_pipe[2], start_pipe[2];

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("shoal-shim: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static long parse_number(const char *key, const char *value, long min, long max) {
  char *end;
  errno = 0;
  long n = strtol(value, &end, 10);
  if (errno != 0 || *value == '\0' || *end != '\0' || n < min || n > max) die("bad %s: %s", key, value);
  return n;
}

static void read_config(const char *path) {
  FILE *f = fopen(path, "re");
  if (!f) die("open %s: %s", path, strerror(errno));
  cfg.cwd = "/";
  cfg.stop_signal = SIGTERM;
  cfg.stop_timeout = 10;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (len == 0 || line[0] == '#') continue;
    char *eq = strchr(line, '=');
    if (!eq) die("config line without '=': %s", line);
    *eq = '\0';
    const char *key = line;
    char *value = strdup(eq + 1);
    if (!value) die("out of memory");
    if (!strcmp(key, "rootfs")) cfg.rootfs = value;
    else if (!strcmp(key, "hostname")) cfg.hostname = value;
    else if (!strcmp(key, "cwd")) cfg.cwd = value;
    else if (!strcmp(key, "netns")) cfg.netns = value;
    else if (!strcmp(key, "log")) cfg.log = value;
    else if (!strcmp(key, "exit")) cfg.exit_file = value;
    else if (!strcmp(key, "pid")) cfg.pid_file = value;
    else if (!strcmp(key, "uid")) cfg.uid = (uid_t)parse_number(key, value, 0, UINT32_MAX - 1);
    else if (!strcmp(key, "gid")) cfg.gid = (gid_t)parse_number(key, value, 0, UINT32_MAX - 1);
    else if (!strcmp(key, "stop_signal")) cfg.stop_signal = (int)parse_number(key, value, 1, SIGRTMAX);
    else if (!strcmp(key, "stop_timeout")) cfg.stop_timeout = (int)parse_number(key, value, 0, 86400);
    else if (!strcmp(key, "group")) {
      if (cfg.ngroups == MAX_LIST) die("too many groups");
      cfg.groups[cfg.ngroups++] = (gid_t)parse_number(key, value, 0, UINT32_MAX - 1);
    } else if (!strcmp(key, "env")) {
      if (cfg.nenv == MAX_LIST) die("too many env entries");
      if (!strchr(value, '=')) die("env entry without '=': %s", value);
      cfg.env[cfg.nenv++] = value;
    } else if (!strcmp(key, "arg")) {
      if (cfg.nargs == MAX_LIST) die("too many args");
      cfg.args[cfg.nargs++] = value;
    } else die("unknown config key: %s", key);
  }
  free(line);
  fclose(f);
  if (!cfg.rootfs || cfg.rootfs[0] != '/') die("rootfs must be an absolute path");
  if (!cfg.log || !cfg.exit_file || !cfg.pid_file) die("log, exit and pid are required");
  if (cfg.nargs == 0) die("at least one arg is required");
  if (cfg.cwd[0] != '/') die("cwd must be absolute");
}

/* ---- the container's init (runs in the new namespaces until exec) ---- */

/* Reports why the container could not start to the supervisor, which passes it on. */
static void child_fail(const char *what, int err) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  if (n > 0 && write(start_pipe[1], msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
    /* Nothing more we can say: the supervisor sees the exit. */
  }
  _exit(127);
}

static void in_root(char *buf, size_t size, const char *path) {
  if ((size_t)snprintf(buf, size, "%s%s", cfg.rootfs, path) >= size) child_fail(path, ENAMETOOLONG);
}

static void mount_in_root(const char *source, const char *target, const char *type, unsigned long flags,
                          const char *data) {
  char path[PATH_MAX];
  in_root(path, sizeof path, target);
  if (mkdir(path, 0755) < 0 && errno != EEXIST) child_fail(target, errno);
  if (mount(source, path, type, flags, data) < 0) child_fail(target, errno);
}

/* sysfs can only be mounted by an owner of the network namespace; without one, bind the host's. */
static void mount_sys(void) {
  char path[PATH_MAX];
  in_root(path, sizeof path, "/sys");
  if (mkdir(path, 0755) < 0 && errno != EEXIST) child_fail("/sys", errno);
  if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) return;
  if (errno != EPERM) child_fail("/sys", errno);
  if (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail("/sys (bind)", errno);
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    child_fail("/sys (read-only)", errno);
}

static const struct device {
  const char *name;
  unsigned major, minor;
} devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/* A tmpfs /dev holding only the harmless character devices, so the host's disks are not reachable. */
static void populate_dev(void) {
  mount_in_root("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  char path[PATH_MAX], host[PATH_MAX];
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    snprintf(host, sizeof host, "/dev/%s", devices[i].name);
    in_root(path, sizeof path, host);
    mode_t old = umask(0);
    int made = mknod(path, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor));
    umask(old);
    if (made == 0) continue;
    /* mknod is refused inside a user namespace; the host's node, bound on a file, works the same. */
    if (errno != EPERM) child_fail(host, errno);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) child_fail(host, errno);
    close(fd);
    if (mount(host, path, NULL, MS_BIND, NULL) < 0) child_fail(host, errno);
  }
  mount_in_root("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  mount_in_root("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  mount_in_root("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  static const char *const links[][2] = {
      {"pts/ptmx", "/dev/ptmx"},          {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
      {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    in_root(path, sizeof path, links[i][1]);
    if (symlink(links[i][0], path) < 0) child_fail(links[i][1], errno);
  }
}

static void enter_root(void) {
  if (chdir(cfg.rootfs) < 0) child_fail("chdir rootfs", errno);
  /* With new and old root both ".", the old root ends up stacked under the new one at "/";
     detaching it leaves nothing of the host reachable and needs no directory in the rootfs. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) child_fail("pivot_root", errno);
  if (umount2(".", MNT_DETACH) < 0) child_fail("detach old root", errno);
  if (chdir("/") < 0) child_fail("chdir /", errno);
}

/*
 * Ignored signals and the blocked mask survive exec, so the container would inherit whatever the
 * supervisor, or whoever started the shim, ignored or blocked: it starts with every signal at its
 * default action and none blocked, as under runc. The raw system call also resets the two
 * real-time signals glibc keeps for itself and refuses to touch through sigaction().
 */
static void reset_signals(void) {
  struct kernel_sigaction {
    void *handler; /* NULL: SIG_DFL */
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } default_action = {0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof default_action.mask);
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail("sigprocmask", errno);
}

static int container_main(void *unused) {
  (void)unused;
  close(start_pipe[0]);
  close(out_pipe[0]);
  close(err_pipe[0]);
  if (cfg.netns) {
    int fd = open(cfg.netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) child_fail(cfg.netns, errno);
    if (setns(fd, CLONE_NEWNET) < 0) child_fail("setns network", errno);
    close(fd);
  }
  /* Private, so that nothing we mount leaks back to the host and host mounts do not appear. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) child_fail("make / private", errno);
  /* pivot_root needs the new root to be a mount point. */
  if (mount(cfg.rootfs, cfg.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail("bind rootfs", errno);
  mount_in_root("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_sys();
  populate_dev();
  enter_root();
  if (cfg.hostname && sethostname(cfg.hostname, strlen(cfg.hostname)) < 0) child_fail("sethostname", errno);

  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) child_fail("/dev/null", errno);
  if (dup2(null_fd, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) child_fail("dup2", errno);
  if (null_fd > 2) close(null_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);

  if (chdir(cfg.cwd) < 0) child_fail(cfg.cwd, errno);
  if (setgroups(cfg.ngroups, cfg.groups) < 0) child_fail("setgroups", errno);
  if (setgid(cfg.gid) < 0) child_fail("setgid", errno);
  if (setuid(cfg.uid) < 0) child_fail("setuid", errno);

  if (clearenv() != 0) child_fail("clearenv", ENOMEM);
  for (size_t i = 0; i < cfg.nenv; i++)
    if (putenv(cfg.env[i]) != 0) child_fail("putenv", errno);
  /* execvp searches the PATH just set, i.e. the container's. */
  reset_signals();
  execvp(cfg.args[0], cfg.args);
  child_fail(cfg.args[0], errno);
  return 127;
}

/* ---- the supervisor ---- */

struct stream {
  const char *name;
  int fd;
  char buf[MAX_LINE];
  size_t len;
};

static int log_fd = -1;

static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* A full or broken log must not stop the container being supervised. */
    data += n;
    len -= (size_t)n;
  }
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_length(const unsigned char *s, size_t n) {
  size_t len;
  uint32_t c;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) len = 2, c = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) len = 3, c = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) len = 4, c = s[0] & 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    return 0;
  return len;
}

/* One JSON line per record, as Docker's json-file driver writes them; bytes that are not UTF-8
   become U+FFFD so the file stays valid JSON. */
static void emit(const char *stream, const char *data, size_t len) {
  /* Worst case per input byte: "\ufffd" (6 bytes); plus the fixed fields. */
  static char out[MAX_LINE * 6 + 256];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t o = strftime(out, 64, "{\"time\":\"%Y-%m-%dT%H:%M:%S", &tm);
  o += (size_t)sprintf(out + o, ".%09ldZ\",\"stream\":\"%s\",\"log\":\"", ts.tv_nsec, stream);
  const unsigned char *s = (const unsigned char *)data;
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') out[o++] = '\\', out[o++] = (char)c, i++;
    else if (c == '\n') out[o++] = '\\', out[o++] = 'n', i++;
    else if (c == '\r') out[o++] = '\\', out[o++] = 'r', i++;
    else if (c == '\t') out[o++] = '\\', out[o++] = 't', i++;
    else if (c < 0x20) o += (size_t)sprintf(out + o, "\\u%04x", c), i++;
    else {
      size_t n = utf8_length(s + i, len - i);
      if (n == 0) {
        memcpy(out + o, "\\ufffd", 6);
        o += 6;
        i++;
      } else {
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
      }
    }
  }
  memcpy(out + o, "\"}\n", 3);
  write_all(log_fd, out, o + 3);
}

/* Reads what is available; returns 0 at end of stream. Whole lines are logged as they complete. */
static int pump(struct stream *st) {
  ssize_t n = read(st->fd, st->buf + st->len, sizeof st->buf - st->len);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) {
    if (st->len > 0) emit(st->name, st->buf, st->len);
    st->len = 0;
    return 0;
  }
  st->len += (size_t)n;
  size_t start = 0;
  for (size_t i = st->len - (size_t)n; i < st->len; i++) {
    if (st->buf[i] != '\n') continue;
    emit(st->name, st->buf + start, i + 1 - start);
    start = i + 1;
  }
  memmove(st->buf, st->buf + start, st->len - start);
  st->len -= start;
  if (st->len == sizeof st->buf) {
    emit(st->name, st->buf, st->len);
    st->len = 0;
  }
  return 1;
}

/* Replaces path whole (temporary file, fsync, rename), so a reader never sees half a status. */
static int write_atomic(const char *path, const char *text) {
  char temp[PATH_MAX];
  if ((size_t)snprintf(temp, sizeof temp, "%s.tmp", path) >= sizeof temp) return -1;
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  write_all(fd, text, strlen(text));
  int ok = fsync(fd) == 0;
  close(fd);
  if (!ok || rename(temp, path) < 0) return -1;
  return 0;
}

static int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static void set_cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }

/* Runs the container and stays with it. `report` is the launcher's pipe: "ok" or an error. */
static int supervise(int report) {
  char msg[600];
  if (setsid() < 0) return 1;
  /* Our stdio is the launcher's (the worker's pipes); holding them would tie us to it. */
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) return 1;
  dup2(null_fd, 0);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  if (null_fd > 2) close(null_fd);
  /* Whatever else the worker left open must not reach the container. */
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return 1;
  signal(SIGPIPE, SIG_IGN);

  log_fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    snprintf(msg, sizeof msg, "open log %s: %s", cfg.log, strerror(errno));
    write_all(report, msg, strlen(msg));
    return 1;
  }
  if (pipe(out_pipe) < 0 || pipe(err_pipe) < 0 || pipe2(start_pipe, O_CLOEXEC) < 0) return 1;
  set_cloexec(out_pipe[0]);
  set_cloexec(err_pipe[0]);

  /* Blocked before clone so no signal is lost; signalfd delivers them into the poll loop. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) return 1;

  void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return 1;
  pid_t init = clone(container_main, (char *)stack + CHILD_STACK,
                     CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD, NULL);
  if (init < 0) {
    snprintf(msg, sizeof msg, "clone: %s", strerror(errno));
    write_all(report, msg, strlen(msg));
    return 1;
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(start_pipe[1]);

  /* The start pipe closes on exec (success) or carries the reason it failed. */
  ssize_t n;
  do n = read(start_pipe[0], msg, sizeof msg - 1);
  while (n < 0 && errno == EINTR);
  close(start_pipe[0]);
  if (n > 0) {
    waitpid(init, NULL, 0);
    write_all(report, msg, (size_t)n);
    return 1;
  }

  char pids[64];
  snprintf(pids, sizeof pids, "%d\n%d\n", (int)getpid(), (int)init);
  if (write_atomic(cfg.pid_file, pids) < 0) {
    kill(init, SIGKILL);
    waitpid(init, NULL, 0);
    snprintf(msg, sizeof msg, "write pid file %s: %s", cfg.pid_file, strerror(errno));
    write_all(report, msg, strlen(msg));
    return 1;
  }
  write_all(report, "ok", 2);
  close(report);

  static struct stream out = {.name = "stdout"}, err = {.name = "stderr"};
  out.fd = out_pipe[0];
  err.fd = err_pipe[0];
  /* stopping: 0 running, 1 stop signal sent (SIGKILL due at kill_at), 2 SIGKILL sent. */
  int status = 0, exited = 0, stopping = 0;
  struct timespec kill_at;
  /* When init exits the kernel kills the rest of its PID namespace, so both pipes reach EOF. */
  while (!exited || out.fd >= 0 || err.fd >= 0) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0}, {out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}};
    int timeout = -1;
    if (stopping == 1 && !exited) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long ms = (kill_at.tv_sec - now.tv_sec) * 1000 + (kill_at.tv_nsec - now.tv_nsec) / 1000000;
      if (ms <= 0) {
        kill(init, SIGKILL);
        stopping = 2;
      } else timeout = (int)ms;
    }
    if (poll(fds, 3, timeout) < 0 && errno != EINTR) break;
    if (fds[1].revents && !pump(&out)) close(out.fd), out.fd = -1;
    if (fds[2].revents && !pump(&err)) close(err.fd), err.fd = -1;
    if (!fds[0].revents) continue;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si) continue;
    if (si.ssi_signo == SIGCHLD) {
      int st;
      if (!exited && waitpid(init, &st, WNOHANG) == init) status = st, exited = 1;
    } else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !exited) {
      kill(init, cfg.stop_signal);
      /* The grace period runs from the first stop request; repeats only resend the signal. */
      if (!stopping) {
        clock_gettime(CLOCK_MONOTONIC, &kill_at);
        kill_at.tv_sec += cfg.stop_timeout;
        stopping = 1;
      }
    }
  }
  char code[16];
  snprintf(code, sizeof code, "%d\n", exit_code_of(status));
  return write_atomic(cfg.exit_file, code) < 0;
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: shoal-shim <config-file>");
  read_config(argv[1]);
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  pid_t supervisor = fork();
  if (supervisor < 0) die("fork: %s", strerror(errno));
  if (supervisor == 0) {
    close(report[0]);
    _exit(supervise(report[1]));
  }
  close(report[1]);
  char msg[600];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof msg - 1 && ((n = read(report[0], msg + len, sizeof msg - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) len += (size_t)n;
  msg[len] = '\0';
  if (len == 2 && !memcmp(msg, "ok", 2)) return 0;
  int st;
  /* Failed supervisors exit straight away; a successful one is left running, unreaped by us. */
  waitpid(supervisor, &st, 0);
  die("container did not start: %s", len ? msg : "supervisor exited without a reason");
}
