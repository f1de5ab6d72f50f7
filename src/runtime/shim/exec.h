/*
 * Running one more process in a running container (exec.c), as `shoal-runtime exec` and health
 * checks do: it joins the container init's namespaces and cgroups and takes the identity, rlimits,
 * oom_score_adj and filters of the given process spec.
 */
#ifndef SHOAL_EXEC_H
#define SHOAL_EXEC_H

#include <linux/filter.h>
#include <stdbool.h>
#include <sys/types.h>
#include "cgroup.h"
#include "spec.h"

struct exec_request {
  pid_t init_pid;             /* the container's init, as the host sees it */
  const struct cgroup *cgroup; /* the container's cgroup, joined before exec; NULL: none */
  char **args;                /* NULL-terminated; args[0] looked up on the PATH of env */
  char **env;                 /* NULL-terminated */
  const char *cwd;
  uid_t uid;
  gid_t gid;
  const gid_t *additional_gids;
  size_t nadditional_gids;
  const struct spec_capabilities *caps; /* NULL: none kept */
  bool no_new_privileges;
  const struct sock_fprog *seccomp; /* NULL: none */
  const struct spec_rlimit *rlimits; /* set before the namespaces are entered, so inherited */
  size_t nrlimits;
  bool has_oom_score_adj; /* false: the caller's own is inherited */
  int oom_score_adj;
};

/*
 * Starts the process in the container with the caller's stdio. Returns its host pid (a child of
 * the caller, to be waited for), or -1 with a reason in err when it could not be started.
 */
pid_t exec_start(const struct exec_request *req, char *err, size_t errlen);

#endif
