/*
 * The container's supervisor (supervisor.c): creates the cgroup, clones the init into the new
 * namespaces, puts it in the cgroup, then stays with it: copies its output into the JSON-lines
 * log (rotated by size), turns SIGTERM/SIGINT into the stop signal and SIGKILL after the grace
 * period (in the foreground passing other signals on as they come), relays the container's DNS
 * queries to the agent when asked to (dns-relay.h), and records how it ended (exit code, OOM kill)
 * in the state directory's `exit` file.
 */
#ifndef SHOAL_SUPERVISOR_H
#define SHOAL_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "cgroup.h"
#include "dns-relay.h"
#include "spec.h"

struct supervisor {
  /* Set by the caller. */
  const struct spec *spec;
  const char *id; /* the container's, for the DNS relay's hello to the agent */
  const char *cgroups_path;
  const char *fifo_path; /* the exec fifo the init waits on; NULL: it execs at once */
  const char *exit_path; /* where the exit record goes; NULL: not written (`run` in the foreground) */
  bool forward_signals;  /* `run` in the foreground: pass on to the init what forwarded_signals names */

  /* Set by supervisor_start. */
  struct cgroup cgroup;
  bool has_cgroup;
  pid_t init;
  uint64_t init_start_time;
  int signal_fd;
  int out_fd, err_fd; /* read ends of the container's stdout and stderr; -1 without a log */
  int log_fd;
  uint64_t log_size;
  struct dns_relay *dns; /* with spec->dns_relay: listening in the container's network namespace */
};

/*
 * Starts the container up to the point where it waits for `start` (or, without a fifo, execs).
 * Blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP for the signal loop, and with forward_signals every
 * signal to be passed on. Returns 0, or -1 with the reason in err and nothing left behind (no
 * process, no cgroup).
 */
int supervisor_start(struct supervisor *s, char *err, size_t errlen);

/* Supervises until the container has ended and its output is drained; returns its exit code
   (the exit status, or 128+signal) after writing the exit record. The cgroup is left in place. */
int supervisor_run(struct supervisor *s);

/* The exit record: {"exitCode":N,"oomKilled":true|false}. */
int exit_record_read(const char *path, int *code, bool *oom_killed);

#endif
