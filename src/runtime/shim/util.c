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
