/*
 * Small helpers the runtime's modules share: allocation, whole-file I/O, UTF-8, signals, process
 * identity and limits.
 */
#ifndef SHOAL_UTIL_H
#define SHOAL_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "spec.h"

/* Allocation failure ends the process: nothing here can go on without the memory. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes all of data, retrying on EINTR and short writes. 0, or -1 with errno set. */
int write_all(int fd, const void *data, size_t len);

/*
 * Replaces path whole (temporary file, then rename) so a reader sees all of it or nothing. No
 * fsync: these files describe processes, which do not outlive a crash of the machine either.
 */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);

/* Reads a whole file into a NUL-terminated heap buffer. 0, or -1 with errno set. */
int read_file(const char *path, char **data, size_t *len);

/* Length of the valid UTF-8 sequence at s (n bytes available, n >= 1), or 0 if it is not one. */
size_t utf8_length(const unsigned char *s, size_t n);

/* "TERM", "SIGTERM" or "15" as a signal number; -1 when it is none of them. */
int signal_from_name(const char *name);

/*
 * Every signal back to its default action and none blocked, for a process about to exec a
 * container's program: ignored signals and the blocked mask survive exec, and the program must not
 * inherit what the runtime ignores or blocks. 0, or -1 with errno set.
 */
int signals_reset(void);

/*
 * The signals `run` and `exec` in the foreground pass on to the container's process, as runc does:
 * every one a process can catch but SIGCHLD, SIGWINCH and SIGURG (see util.c).
 */
void forwarded_signals(sigset_t *set);

/*
 * The start time of a live process (field 22 of /proc/PID/stat, in clock ticks since boot): with
 * the pid it names one process for good, since a pid can be reused but not with the same start.
 * 0 when pid is not running (absent, or a zombie nobody has reaped yet).
 */
uint64_t proc_start_time(pid_t pid);

/* A wait status as an exit code: the exit status, or 128+signal for a process a signal ended. */
int exit_code(int wait_status);

/* process.rlimits, set on this process. 0, or -1 with errno set and *failed the one refused. */
int rlimits_apply(const struct spec_rlimit *limits, size_t n, const struct spec_rlimit **failed);

/* Writes this process's oom_score_adj through /proc/self, so it needs the host's /proc (call it
   before entering a container's mounts); children inherit it. 0, or -1 with errno set. */
int oom_score_adj_set(int value);

/* ts as RFC 3339 UTC with nanoseconds ("2006-01-02T15:04:05.000000000Z"); buf needs 32 bytes. */
void format_time(char *buf, size_t size, const struct timespec *ts);

#endif
