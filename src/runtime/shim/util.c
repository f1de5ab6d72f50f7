#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void out_of_memory(void) {
  static const char msg[] = "shoal-runtime: out of memory\n";
  if (write(2, msg, sizeof msg - 1) < 0) {
    /* Nothing more to say. */
  }
  abort();
}

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) out_of_memory();
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) out_of_memory();
  return s;
}

int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return errno = EIO, -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
  char temp[PATH_MAX];
  if ((size_t)snprintf(temp, sizeof temp, "%s.tmp", path) >= sizeof temp) return errno = ENAMETOOLONG, -1;
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  if (write_all(fd, data, len) < 0) {
    int saved = errno;
    close(fd);
    unlink(temp);
    return errno = saved, -1;
  }
  close(fd);
  if (rename(temp, path) < 0) {
    int saved = errno;
    unlink(temp);
    return errno = saved, -1;
  }
  return 0;
}

int read_file(const char *path, char **data, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 4096, n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) out_of_memory();
    }
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int saved = errno;
      free(buf);
      close(fd);
      return errno = saved, -1;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

size_t utf8_length(const unsigned char *s, size_t n) {
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
  /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
  if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    return 0;
  return len;
}

static const struct {
  const char *name;
  int number;
} signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},   {"IOT", SIGIOT},       {"BUS", SIGBUS},       {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM},   {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL},   {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int signal_from_name(const char *name) {
  if (!name || !*name) return -1;
  if (name[0] >= '0' && name[0] <= '9') {
    char *end;
    errno = 0;
    long n = strtol(name, &end, 10);
    if (errno || *end || n < 1 || n > 64) return -1;
    return (int)n;
  }
  const char *bare = strncasecmp(name, "SIG", 3) == 0 ? name + 3 : name;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (!strcasecmp(bare, signals[i].name)) return signals[i].number;
  /* RTMIN+n / RTMAX-n, as the kernel numbers them (glibc keeps the first two for itself). */
  char *end;
  if (!strncasecmp(bare, "RTMIN+", 6)) {
    long n = strtol(bare + 6, &end, 10);
    if (*end == '\0' && bare[6] && n >= 0 && 34 + n <= 64) return (int)(34 + n);
  } else if (!strncasecmp(bare, "RTMAX-", 6)) {
    long n = strtol(bare + 6, &end, 10);
    if (*end == '\0' && bare[6] && n >= 0 && 64 - n >= 34) return (int)(64 - n);
  } else if (!strcasecmp(bare, "RTMIN")) return 34;
  else if (!strcasecmp(bare, "RTMAX")) return 64;
  return -1;
}

/* Through the raw system call: glibc's sigaction() refuses the two real-time signals it reserves. */
int signals_reset(void) {
  struct {
    void *handler; /* NULL: SIG_DFL */
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } default_action = {0};
  for (int sig = 1; sig < _NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP &&
        syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof default_action.mask) < 0)
      return -1;
  sigset_t none;
  sigemptyset(&none);
  return sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * runc in the foreground passes on everything it can catch but SIGCHLD (it reaps its own children),
 * SIGWINCH (it resizes the terminal it holds) and SIGURG (Go's scheduler sends it to runc itself).
 * The same set here, so a program sees the same signals under either runtime. glibc's sigfillset
 * leaves out the two real-time signals glibc keeps for itself, which cannot be blocked anyway.
 */
void forwarded_signals(sigset_t *set) {
  sigfillset(set);
  static const int kept[] = {SIGKILL, SIGSTOP, SIGCHLD, SIGWINCH, SIGURG};
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) sigdelset(set, kept[i]);
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

int rlimits_apply(const struct spec_rlimit *limits, size_t n, const struct spec_rlimit **failed) {
  for (size_t i = 0; i < n; i++) {
    struct rlimit rl = {.rlim_cur = limits[i].soft, .rlim_max = limits[i].hard};
    if (setrlimit(limits[i].resource, &rl) < 0) return *failed = &limits[i], -1;
  }
  return 0;
}

int oom_score_adj_set(int value) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[16];
  int n = snprintf(text, sizeof text, "%d", value);
  int r = write_all(fd, text, (size_t)n);
  int saved = errno;
  close(fd);
  return errno = saved, r;
}

uint64_t proc_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses; the fields after it are plain. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  if (*p == 'Z' || *p == 'X') return 0;
  /* p is at field 3 (state); the start time is field 22. */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

void format_time(char *buf, size_t size, const struct timespec *ts) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%09ldZ", ts->tv_nsec);
}
