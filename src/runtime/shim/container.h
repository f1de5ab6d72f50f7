/*
 * The container's init (container.c): the first process in the container's new namespaces. It
 * builds the root filesystem from the spec, takes the process's identity and limits, says it is
 * ready, waits to be started, and execs the program.
 */
#ifndef SHOAL_CONTAINER_H
#define SHOAL_CONTAINER_H

#include "cgroup.h"
#include "spec.h"

struct init_args {
  const struct spec *spec;
  const struct cgroup *cgroup; /* the container's, for a cgroup mount; NULL: none */
  /* The exec fifo (created by `create`): the init blocks on it until `start`. NULL: exec at once. */
  const char *fifo_path;
  int sync_fd;   /* read end: one byte from the supervisor once the init is in its cgroup */
  int report_fd; /* write end, close-on-exec: 'R' when ready, or 'E' and the reason it failed */
  int out_fd, err_fd; /* where stdout and stderr go (the log pipes); -1: keep the inherited stdio */
};

/* The clone(2) flags of the namespaces the spec creates (not those it joins by path). */
int container_clone_flags(const struct spec *spec);

/* The init's entry point for clone(2); never returns (exec, or _exit(127) after reporting why). */
int container_main(void *init_args);

#endif
