/*
 * The container's cgroups (cgroup.c): found from /proc/self/mountinfo, v1 with controllers mounted
 * separately or the v2 unified hierarchy, created from linux.cgroupsPath, limited from
 * linux.resources, joined by pid, asked whether the kernel OOM-killed in them, and removed.
 */
#ifndef SHOAL_CGROUP_H
#define SHOAL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "spec.h"

#define CGROUP_MAX_DIRS 16

struct cgroup {
  bool v2;
  /* Absolute directories of this container's cgroup: one per v1 hierarchy, or the one v2 dir. */
  char *dirs[CGROUP_MAX_DIRS];
  size_t ndirs;
  char *memory_dir; /* the one of dirs that holds the memory controller, or NULL */
};

/*
 * Resolves `path` (absolute: from each hierarchy's root; relative: under this process's own
 * cgroup in it) into cg, creating the directories and writing the limits. Returns 0, or -1 with a
 * reason in err (and nothing left behind).
 */
int cgroup_create(const char *path, const struct spec_resources *res, struct cgroup *cg, char *err, size_t errlen);

/* Resolves an existing container's cgroup without creating or changing anything. */
int cgroup_open(const char *path, struct cgroup *cg, char *err, size_t errlen);

/* Moves pid into every directory of cg. Returns 0, or -1 with errno set. */
int cgroup_join(const struct cgroup *cg, pid_t pid);

/* How many processes the kernel's OOM killer killed in cg (memory.oom_control or memory.events). */
long cgroup_oom_kills(const struct cgroup *cg);

/* Kills what is left in cg and removes its directories. Returns 0, or -1 with errno set. */
int cgroup_remove(const struct cgroup *cg);

#endif
