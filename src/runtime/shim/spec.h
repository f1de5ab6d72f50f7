/*
 * The container as the shim sees it: what spec.c reads from an OCI runtime config.json
 * (https://github.com/opencontainers/runtime-spec, config.md and config-linux.md). Every module
 * works from this struct, never from JSON, so a config is checked whole before anything starts.
 * Strings and arrays are heap-allocated and live as long as the process.
 */
#ifndef SHOAL_SPEC_H
#define SHOAL_SPEC_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spec_mount {
  char *destination; /* absolute, inside the container */
  char *type;        /* NULL for a bind mount */
  char *source;
  unsigned long flags;           /* MS_* from the options (ro, nosuid, nodev, noexec, bind, rbind, ...) */
  unsigned long propagation;     /* MS_PRIVATE/MS_SLAVE/MS_SHARED(|MS_REC) from the options, or 0 */
  char *data;                    /* the options the kernel takes as data ("mode=755,size=65536k"), or NULL */
};

struct spec_rlimit {
  int resource; /* RLIMIT_* */
  uint64_t soft, hard;
};

/* One namespace of linux.namespaces: CLONE_NEW* and, when given, the path of one to join. */
struct spec_namespace {
  int type;
  char *path;
};

/* Capability sets as bit masks (bit n = capability number n). */
struct spec_capabilities {
  uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* linux.resources: -1 (or 0 for shares/period) means not set. */
struct spec_resources {
  int64_t memory_limit;       /* bytes */
  int64_t memory_swap;        /* bytes, memory plus swap as in OCI; -1 unlimited */
  int64_t cpu_quota;          /* microseconds per period */
  uint64_t cpu_period;        /* microseconds */
  uint64_t cpu_shares;        /* v1 shares; converted to a v2 weight on cgroup v2 */
  int64_t pids_limit;
};

enum seccomp_action {
  SECCOMP_ACTION_KILL_THREAD,
  SECCOMP_ACTION_KILL_PROCESS,
  SECCOMP_ACTION_TRAP,
  SECCOMP_ACTION_ERRNO,
  SECCOMP_ACTION_TRACE,
  SECCOMP_ACTION_LOG,
  SECCOMP_ACTION_ALLOW,
};

enum seccomp_op {
  SECCOMP_OP_NE,
  SECCOMP_OP_LT,
  SECCOMP_OP_LE,
  SECCOMP_OP_EQ,
  SECCOMP_OP_GE,
  SECCOMP_OP_GT,
  SECCOMP_OP_MASKED_EQ,
};

struct spec_seccomp_arg {
  unsigned index; /* 0..5 */
  uint64_t value, value_two;
  enum seccomp_op op;
};

struct spec_seccomp_rule {
  char **names;
  size_t nnames;
  enum seccomp_action action;
  uint32_t errno_ret; /* for SECCOMP_ACTION_ERRNO (and TRACE's data); EPERM when not given */
  struct spec_seccomp_arg *args; /* all must hold for the rule to match */
  size_t nargs;
};

struct spec_seccomp {
  enum seccomp_action default_action;
  uint32_t default_errno_ret;
  struct spec_seccomp_rule *rules;
  size_t nrules;
};

struct spec {
  /* process */
  bool terminal; /* refused by spec.c: the shim has no console support */
  char **args;   /* NULL-terminated; args[0] is looked up on the container's PATH */
  size_t nargs;
  char **env; /* NULL-terminated "KEY=value" */
  size_t nenv;
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *additional_gids;
  size_t nadditional_gids;
  struct spec_capabilities caps;
  bool has_caps; /* process.capabilities was given; without it the process keeps none */
  struct spec_rlimit *rlimits;
  size_t nrlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;

  /* root, hostname, mounts */
  char *root_path; /* absolute (spec.c resolves it against the bundle) */
  bool root_readonly;
  char *hostname;
  struct spec_mount *mounts;
  size_t nmounts;

  /* linux */
  struct spec_namespace namespaces[8];
  size_t nnamespaces;
  char *cgroups_path; /* NULL: /shoal/<container id> */
  struct spec_resources resources;
  char **masked_paths;
  size_t nmasked_paths;
  char **readonly_paths;
  size_t nreadonly_paths;
  bool has_seccomp;
  struct spec_seccomp seccomp;
  struct sock_fprog seccomp_filter; /* seccomp compiled by spec_load, so a bad profile fails before anything starts */

  char *annotations_json; /* the annotations object, compact, for the state the runtime reports */

  /* shoal's own settings, from annotations (org.shoal.*, see README.md) */
  char *log_path;       /* JSON-lines log of stdout/stderr; NULL: the container uses the caller's stdio */
  uint64_t log_max_size; /* bytes per file before rotation; 0: never rotate */
  unsigned log_max_files;
  int stop_signal;
  int stop_timeout; /* seconds */
  char *overlay_lower; /* overlayfs lowerdir list (top first, ':'-separated) mounted on root_path; NULL: none */
  char *overlay_upper, *overlay_work;
  char *dns_relay; /* the agent's resolver (a unix stream socket) the DNS relay passes queries to; NULL: no relay */
};

/*
 * Reads bundle/config.json into out. Every field this runtime uses is checked; on the first bad one
 * it returns -1 with one line in err naming the field. Unknown fields are ignored, as OCI asks.
 */
int spec_load(const char *bundle, struct spec *out, char *err, size_t errlen);

#endif
