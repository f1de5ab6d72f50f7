/*
 * The container's cgroups (see cgroup.h).
 *
 * Where the hierarchies are comes from /proc/self/mountinfo, and where this process sits in each
 * from /proc/self/cgroup. With cgroup v1 (each controller, or a few together, mounted as its own
 * hierarchy) the container gets a directory in every mounted hierarchy, plus one in the unified
 * cgroup2 hierarchy of a hybrid host, so that it is wholly out of its starter's cgroups; limits go
 * to the hierarchies holding memory, cpu and pids. With v2 there is one directory, and the
 * controllers are first enabled in the cgroup.subtree_control of every directory above it.
 *
 * v1 is chosen whenever memory, cpu or pids is mounted as a v1 controller: a controller is in one
 * version only, so on a hybrid host those limits can only be set there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"

/* The files that describe this process's mounts and cgroups. The test driver (testing/
 * cgroup-driver.c) includes this file and points them at fakes to check the v2 logic. */
static const char *mountinfo_file = "/proc/self/mountinfo";
static const char *self_cgroup_file = "/proc/self/cgroup";

/* How long cgroup_remove keeps killing and retrying before giving up with EBUSY. */
#define REMOVE_DEADLINE_NS (10LL * 1000 * 1000 * 1000)
#define MAX_SELF_LINES 32
/* The most directories one cgroup_create may make: every level of the path in every hierarchy. */
#define MAX_CREATED 256

/* One mounted hierarchy and this process's place in it. */
struct hierarchy {
  bool v2;
  bool memory, cpu, pids, cpuset; /* v1 controllers it holds (v2: see cgroup.controllers) */
  char *mount_point;
  char *own; /* this process's cgroup below mount_point: "" or "/a/b" */
};

struct layout {
  bool v2;
  struct hierarchy h[CGROUP_MAX_DIRS];
  size_t n;
};

/* One line of /proc/self/cgroup: "ID:CONTROLLERS:PATH" (CONTROLLERS empty for cgroup2). */
struct self_line {
  char *controllers;
  char *path;
  bool used; /* a hierarchy mounted twice (bind mounts) is taken once */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static char *join2(const char *a, const char *b) {
  char *s;
  return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

/* dir/name in path (PATH_MAX bytes). Returns 0, or -1 with errno set when it does not fit. */
static int file_path(char *path, const char *dir, const char *name) {
  if (snprintf(path, PATH_MAX, "%s/%s", dir, name) < PATH_MAX) return 0;
  errno = ENAMETOOLONG;
  return -1;
}

/* Reads dir/name, a small file as cgroup files are, into buf, NUL-terminated. Returns its length or -1. */
static ssize_t read_small(const char *dir, const char *name, char *buf, size_t size) {
  char path[PATH_MAX];
  if (file_path(path, dir, name) < 0) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len + 1 < size) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

/* Writes value to dir/name in one write(2), as the kernel wants. Returns 0, or -1 with errno set. */
static int write_value(const char *dir, const char *name, const char *value) {
  char path[PATH_MAX];
  if (file_path(path, dir, name) < 0) return -1;
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  if ((size_t)n != len) {
    errno = EIO;
    return -1;
  }
  return 0;
}

/* write_value with the file and value named in err on failure. */
static int write_limit(const char *dir, const char *name, const char *value, char *err, size_t errlen) {
  if (write_value(dir, name, value) == 0) return 0;
  set_err(err, errlen, "cannot write %s to %s/%s: %s", value, dir, name, strerror(errno));
  return -1;
}

static bool file_exists(const char *dir, const char *name) {
  char path[PATH_MAX];
  return file_path(path, dir, name) == 0 && access(path, F_OK) == 0;
}

/* Whether word is one of the sep-separated words of list. */
static bool has_word(const char *list, const char *word, char sep) {
  size_t wlen = strlen(word);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, sep);
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == wlen && strncmp(p, word, len) == 0) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

/* Undoes mountinfo's escapes (\040 for a space, \011, \012, \134) in place. */
static void unescape_octal(char *s) {
  char *out = s;
  for (char *p = s; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
      *out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
      p += 3;
    } else {
      *out++ = *p;
    }
  }
  *out = '\0';
}

static void free_self_lines(struct self_line *lines, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(lines[i].controllers);
    free(lines[i].path);
  }
}

static size_t read_self_lines(struct self_line *lines, char *err, size_t errlen) {
  FILE *f = fopen(self_cgroup_file, "re");
  if (!f) {
    set_err(err, errlen, "open %s: %s", self_cgroup_file, strerror(errno));
    return (size_t)-1;
  }
  size_t n = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  bool failed = false;
  while (n < MAX_SELF_LINES && (len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
    char *first = strchr(line, ':');
    char *second = first ? strchr(first + 1, ':') : NULL;
    if (!second) continue;
    *second = '\0';
    lines[n].controllers = strdup(first + 1);
    lines[n].path = strdup(second + 1);
    lines[n].used = false;
    if (!lines[n].controllers || !lines[n].path) {
      free(lines[n].controllers);
      free(lines[n].path);
      failed = true;
      break;
    }
    n++;
  }
  failed = failed || ferror(f);
  free(line);
  fclose(f);
  if (failed) {
    free_self_lines(lines, n);
    set_err(err, errlen, "read %s: %s", self_cgroup_file, strerror(errno));
    return (size_t)-1;
  }
  return n;
}

/*
 * The cgroup line this mount is the hierarchy of: for v1, the line whose controllers (or
 * "name=X") are all among the mount's super options; for cgroup2, the "0::" line.
 */
static struct self_line *line_for_mount(struct self_line *lines, size_t n, bool v2, const char *super) {
  for (size_t i = 0; i < n; i++) {
    if (lines[i].used || v2 != (lines[i].controllers[0] == '\0')) continue;
    if (v2) return &lines[i];
    bool all = true;
    char *list = strdupa(lines[i].controllers);
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
      if (!has_word(super, c, ',')) all = false;
    }
    if (all) return &lines[i];
  }
  return NULL;
}

/*
 * This process's cgroup as seen below a mount of the hierarchy whose root (mountinfo field 4) is
 * root, or NULL when the mount shows another part of the hierarchy that does not hold it.
 */
static const char *own_below_root(const char *path, const char *root) {
  if (strcmp(root, "/") == 0) return strcmp(path, "/") == 0 ? "" : path;
  size_t len = strlen(root);
  if (strncmp(path, root, len) != 0 || (path[len] != '\0' && path[len] != '/')) return NULL;
  return path + len;
}

/* Reads the hierarchies into l (see the top of this file for which ones). Returns 0 or -1. */
static int find_layout(struct layout *l, char *err, size_t errlen) {
  struct self_line lines[MAX_SELF_LINES];
  size_t nlines = read_self_lines(lines, err, errlen);
  if (nlines == (size_t)-1) return -1;
  FILE *f = fopen(mountinfo_file, "re");
  if (!f) {
    set_err(err, errlen, "open %s: %s", mountinfo_file, strerror(errno));
    return -1;
  }
  struct hierarchy v1[CGROUP_MAX_DIRS], unified = {0};
  size_t nv1 = 0;
  bool have_unified = false, need_v1 = false, overflow = false;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
    /* ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS */
    char *fields[6], *save = NULL, *tok = strtok_r(line, " ", &save);
    size_t nf = 0;
    for (; tok && nf < 6; tok = strtok_r(NULL, " ", &save)) fields[nf++] = tok;
    while (tok && strcmp(tok, "-") != 0) tok = strtok_r(NULL, " ", &save);
    char *fstype = strtok_r(NULL, " ", &save);
    if (nf < 6 || !tok || !fstype || !strtok_r(NULL, " ", &save)) continue;
    char *super = strtok_r(NULL, " ", &save);
    if (!super) continue;
    bool v2 = strcmp(fstype, "cgroup2") == 0;
    if (!v2 && strcmp(fstype, "cgroup") != 0) continue;
    if (v2 && have_unified) continue;
    struct self_line *self = line_for_mount(lines, nlines, v2, super);
    if (!self) continue;
    unescape_octal(fields[3]);
    unescape_octal(fields[4]);
    const char *own = own_below_root(self->path, fields[3]);
    if (!own) continue;
    /* One place is kept for the unified hierarchy. */
    if (!v2 && nv1 == CGROUP_MAX_DIRS - 1) {
      overflow = true;
      break;
    }
    struct hierarchy h = {.v2 = v2};
    h.mount_point = strdup(fields[4]);
    h.own = strdup(own);
    if (!h.mount_point || !h.own) {
      free(h.mount_point);
      free(h.own);
      overflow = true;
      break;
    }
    self->used = true;
    if (v2) {
      unified = h;
      have_unified = true;
      continue;
    }
    h.memory = has_word(super, "memory", ',');
    h.cpu = has_word(super, "cpu", ',');
    h.pids = has_word(super, "pids", ',');
    h.cpuset = has_word(super, "cpuset", ',');
    need_v1 = need_v1 || h.memory || h.cpu || h.pids;
    v1[nv1++] = h;
  }
  free(line);
  fclose(f);
  free_self_lines(lines, nlines);
  /* Into l what it takes, then what is left is freed. */
  l->n = 0;
  l->v2 = !need_v1;
  if (!overflow && need_v1) {
    for (size_t i = 0; i < nv1; i++) l->h[l->n++] = v1[i];
    nv1 = 0;
  }
  if (!overflow && have_unified) {
    l->h[l->n++] = unified;
    have_unified = false;
  }
  for (size_t i = 0; i < nv1; i++) {
    free(v1[i].mount_point);
    free(v1[i].own);
  }
  if (have_unified) {
    free(unified.mount_point);
    free(unified.own);
  }
  if (overflow) {
    set_err(err, errlen, "%s: too many cgroup hierarchies (or out of memory)", mountinfo_file);
    return -1;
  }
  if (l->n == 0) {
    set_err(err, errlen, "no cgroup hierarchy holding memory, cpu or pids in %s", mountinfo_file);
    return -1;
  }
  return 0;
}

static void free_layout(struct layout *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->h[i].mount_point);
    free(l->h[i].own);
  }
  l->n = 0;
}

/*
 * path without empty and "." components, as "/a/b"; *absolute tells whether it started with '/'.
 * ".." is refused: the path must not climb out of the hierarchy or of this process's cgroup.
 */
static char *clean_path(const char *path, bool *absolute, char *err, size_t errlen) {
  *absolute = path[0] == '/';
  char *out = malloc(strlen(path) + 2), *copy = strdupa(path);
  if (!out) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  out[0] = '\0';
  for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    if (strcmp(c, ".") == 0) continue;
    if (strcmp(c, "..") == 0) {
      set_err(err, errlen, "cgroups path %s: \"..\" is not allowed", path);
      free(out);
      return NULL;
    }
    strcat(out, "/");
    strcat(out, c);
  }
  if (out[0] == '\0') {
    set_err(err, errlen, "cgroups path \"%s\" names no cgroup", path);
    free(out);
    return NULL;
  }
  return out;
}

/* The directory below which path starts in h. */
static char *base_dir(const struct hierarchy *h, bool absolute) {
  return join2(h->mount_point, absolute ? "" : h->own);
}

/* Fills cg's directories from the layout; the strings become cg's. */
static int fill_dirs(const struct layout *l, const char *clean, bool absolute, struct cgroup *cg) {
  memset(cg, 0, sizeof *cg);
  cg->v2 = l->v2;
  for (size_t i = 0; i < l->n; i++) {
    char *base = base_dir(&l->h[i], absolute);
    char *dir = base ? join2(base, clean) : NULL;
    free(base);
    if (!dir) return -1;
    cg->dirs[cg->ndirs++] = dir;
    if (l->h[i].memory || (l->v2 && l->h[i].v2)) cg->memory_dir = dir;
  }
  return 0;
}

static void free_dirs(struct cgroup *cg) {
  for (size_t i = 0; i < cg->ndirs; i++) free(cg->dirs[i]);
  memset(cg, 0, sizeof *cg);
}

/* The directories cgroup_create made, so that a failure can take them back. */
struct created {
  char *dirs[MAX_CREATED];
  size_t n;
};

static void undo_created(struct created *c) {
  while (c->n > 0) {
    char *dir = c->dirs[--c->n];
    rmdir(dir);
    free(dir);
  }
}

static void forget_created(struct created *c) {
  while (c->n > 0) free(c->dirs[--c->n]);
}

/* A new cpuset cgroup has no CPUs or memory nodes, and joining it fails; give it its parent's. */
static int fill_cpuset(const char *parent, const char *dir, char *err, size_t errlen) {
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  for (size_t i = 0; i < 2; i++) {
    char value[4096];
    ssize_t len = read_small(dir, files[i], value, sizeof value);
    if (len < 0) {
      set_err(err, errlen, "read %s/%s: %s", dir, files[i], strerror(errno));
      return -1;
    }
    if (len > 0 && value[0] != '\n') continue;
    if (read_small(parent, files[i], value, sizeof value) < 0) {
      set_err(err, errlen, "read %s/%s: %s", parent, files[i], strerror(errno));
      return -1;
    }
    value[strcspn(value, "\n")] = '\0';
    if (write_limit(dir, files[i], value, err, errlen) < 0) return -1;
  }
  return 0;
}

/* The controllers the limits and the stats need: enabled in dir's subtree when dir offers them. */
static int enable_controllers(const char *dir, char *err, size_t errlen) {
  static const char *const wanted[] = {"cpu", "memory", "pids"};
  char available[1024], enabled[1024], change[64] = "";
  if (read_small(dir, "cgroup.controllers", available, sizeof available) < 0) {
    if (errno == ENOENT) return 0; /* nothing to enable */
    set_err(err, errlen, "read %s/cgroup.controllers: %s", dir, strerror(errno));
    return -1;
  }
  if (read_small(dir, "cgroup.subtree_control", enabled, sizeof enabled) < 0) {
    set_err(err, errlen, "read %s/cgroup.subtree_control: %s", dir, strerror(errno));
    return -1;
  }
  available[strcspn(available, "\n")] = '\0';
  enabled[strcspn(enabled, "\n")] = '\0';
  for (size_t i = 0; i < 3; i++) {
    if (!has_word(available, wanted[i], ' ') || has_word(enabled, wanted[i], ' ')) continue;
    if (change[0]) strcat(change, " ");
    strcat(change, "+");
    strcat(change, wanted[i]);
  }
  return change[0] ? write_limit(dir, "cgroup.subtree_control", change, err, errlen) : 0;
}

/* Makes h's directories down to base+clean, recording the new ones in c. */
static int make_dirs(const struct hierarchy *h, const char *base, const char *clean, struct created *c, char *err,
                     size_t errlen) {
  char parent[PATH_MAX], dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s%s", base, clean) >= (int)sizeof dir) {
    set_err(err, errlen, "cgroup directory name too long: %s%s", base, clean);
    return -1;
  }
  /* Each level: dir is cut after the next component; parent is the level above it. */
  size_t at = strlen(base);
  snprintf(parent, sizeof parent, "%s", base);
  while (dir[at] == '/') {
    char *next = strchr(dir + at + 1, '/');
    size_t end = next ? (size_t)(next - dir) : strlen(dir);
    char saved = dir[end];
    dir[end] = '\0';
    if (h->v2 && enable_controllers(parent, err, errlen) < 0) return -1;
    if (mkdir(dir, 0755) == 0) {
      if (c->n == MAX_CREATED || !(c->dirs[c->n] = strdup(dir))) {
        rmdir(dir);
        set_err(err, errlen, "too many cgroup directories (or out of memory)");
        return -1;
      }
      c->n++;
    } else if (errno != EEXIST) {
      set_err(err, errlen, "mkdir %s: %s", dir, strerror(errno));
      return -1;
    }
    if (h->cpuset && fill_cpuset(parent, dir, err, errlen) < 0) return -1;
    snprintf(parent, sizeof parent, "%s", dir);
    dir[end] = saved;
    at = end;
  }
  return 0;
}

/* A number as text, in buf (which must hold 24 bytes). */
static const char *num(char *buf, long long n) {
  snprintf(buf, 24, "%lld", n);
  return buf;
}

static int write_number(const char *dir, const char *name, long long n, char *err, size_t errlen) {
  char value[24];
  return write_limit(dir, name, num(value, n), err, errlen);
}

/*
 * memory.limit_in_bytes and memory.memsw.limit_in_bytes in an order the kernel accepts: it keeps
 * memsw >= memory at every step, so a raise goes memsw first and a lowering memory first.
 */
static int set_v1_memory(const char *dir, const struct spec_resources *r, char *err, size_t errlen) {
  const char *memsw = "memory.memsw.limit_in_bytes";
  char current[64];
  bool swap = r->memory_swap > 0 && file_exists(dir, memsw);
  bool raise = swap && read_small(dir, "memory.limit_in_bytes", current, sizeof current) > 0 &&
               strtoull(current, NULL, 10) < (unsigned long long)r->memory_limit;
  if (raise && write_number(dir, memsw, r->memory_swap, err, errlen) < 0) return -1;
  if (write_number(dir, "memory.limit_in_bytes", r->memory_limit, err, errlen) < 0) return -1;
  if (swap && !raise && write_number(dir, memsw, r->memory_swap, err, errlen) < 0) return -1;
  return 0;
}

static int set_v1_limits(const struct hierarchy *h, const char *dir, const struct spec_resources *r, char *err,
                         size_t errlen) {
  if (h->memory && r->memory_limit > 0 && set_v1_memory(dir, r, err, errlen) < 0) return -1;
  if (h->cpu) {
    if (r->cpu_period > 0 && write_number(dir, "cpu.cfs_period_us", (long long)r->cpu_period, err, errlen) < 0)
      return -1;
    if (r->cpu_quota > 0 && write_number(dir, "cpu.cfs_quota_us", r->cpu_quota, err, errlen) < 0) return -1;
    if (r->cpu_shares > 0 && write_number(dir, "cpu.shares", (long long)r->cpu_shares, err, errlen) < 0) return -1;
  }
  if (h->pids && r->pids_limit > 0 && write_number(dir, "pids.max", r->pids_limit, err, errlen) < 0) return -1;
  return 0;
}

/* v1 shares (2..262144, default 1024) onto the v2 weight range (1..10000, default 100), as runc maps them. */
static long long weight_from_shares(uint64_t shares) {
  long long s = shares < 2 ? 2 : shares > 262144 ? 262144 : (long long)shares;
  return 1 + ((s - 2) * 9999) / 262142;
}

static int set_v2_limits(const char *dir, const struct spec_resources *r, char *err, size_t errlen) {
  if (r->memory_limit > 0 && write_number(dir, "memory.max", r->memory_limit, err, errlen) < 0) return -1;
  /* v2 limits swap alone where OCI (like v1's memsw) counts memory plus swap. */
  if (r->memory_swap > 0 && file_exists(dir, "memory.swap.max") &&
      write_number(dir, "memory.swap.max", r->memory_swap - r->memory_limit, err, errlen) < 0)
    return -1;
  if (r->cpu_quota > 0 || r->cpu_period > 0) {
    /* "QUOTA PERIOD", "max" for no quota; a period left out stays as it is. */
    char value[64], quota[24], period[24] = "";
    if (r->cpu_period > 0) snprintf(period, sizeof period, " %llu", (unsigned long long)r->cpu_period);
    snprintf(value, sizeof value, "%s%s", r->cpu_quota > 0 ? num(quota, r->cpu_quota) : "max", period);
    if (write_limit(dir, "cpu.max", value, err, errlen) < 0) return -1;
  }
  if (r->cpu_shares > 0 && write_number(dir, "cpu.weight", weight_from_shares(r->cpu_shares), err, errlen) < 0)
    return -1;
  if (r->pids_limit > 0 && write_number(dir, "pids.max", r->pids_limit, err, errlen) < 0) return -1;
  return 0;
}

/* What the kernel would refuse anyway, refused before anything is made. */
static int check_resources(const struct spec_resources *r, char *err, size_t errlen) {
  if (r->memory_swap > 0 && r->memory_limit <= 0) {
    set_err(err, errlen, "a memory+swap limit (%lld) needs a memory limit", (long long)r->memory_swap);
    return -1;
  }
  if (r->memory_swap > 0 && r->memory_swap < r->memory_limit) {
    set_err(err, errlen, "the memory+swap limit (%lld) is below the memory limit (%lld)", (long long)r->memory_swap,
            (long long)r->memory_limit);
    return -1;
  }
  return 0;
}

/* A cgroups path resolved against this machine's hierarchies. */
struct target {
  struct layout l;
  char *clean; /* the path as clean_path leaves it */
  bool absolute;
};

static void free_target(struct target *t) {
  free_layout(&t->l);
  free(t->clean);
}

/*
 * What cgroup_create and cgroup_open start with: path cleaned, the hierarchies found, and cg given
 * the container's directory in each. Returns 0, or -1 with err set and nothing held.
 */
static int resolve(const char *path, struct target *t, struct cgroup *cg, char *err, size_t errlen) {
  memset(cg, 0, sizeof *cg);
  t->clean = clean_path(path, &t->absolute, err, errlen);
  if (!t->clean) return -1;
  if (find_layout(&t->l, err, errlen) < 0) {
    free(t->clean);
    return -1;
  }
  if (fill_dirs(&t->l, t->clean, t->absolute, cg) < 0) {
    set_err(err, errlen, "out of memory");
    free_dirs(cg);
    free_target(t);
    return -1;
  }
  return 0;
}

int cgroup_create(const char *path, const struct spec_resources *res, struct cgroup *cg, char *err, size_t errlen) {
  memset(cg, 0, sizeof *cg);
  if (check_resources(res, err, errlen) < 0) return -1;
  struct target t;
  if (resolve(path, &t, cg, err, errlen) < 0) return -1;
  struct created made = {.n = 0};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < t.l.n; i++) {
    char *base = base_dir(&t.l.h[i], t.absolute);
    rc = base ? make_dirs(&t.l.h[i], base, t.clean, &made, err, errlen) : -1;
    free(base);
  }
  for (size_t i = 0; rc == 0 && i < t.l.n; i++) {
    if (t.l.v2) rc = set_v2_limits(cg->dirs[i], res, err, errlen);
    else if (!t.l.h[i].v2) rc = set_v1_limits(&t.l.h[i], cg->dirs[i], res, err, errlen);
  }
  if (rc < 0) {
    undo_created(&made);
    free_dirs(cg);
  } else {
    forget_created(&made);
  }
  free_target(&t);
  return rc;
}

int cgroup_open(const char *path, struct cgroup *cg, char *err, size_t errlen) {
  struct cgroup all;
  struct target t;
  if (resolve(path, &t, &all, err, errlen) < 0) return -1;
  free_target(&t);
  /* Keep the directories that exist: a half-removed cgroup can still be removed. */
  memset(cg, 0, sizeof *cg);
  cg->v2 = all.v2;
  for (size_t i = 0; i < all.ndirs; i++) {
    struct stat st;
    if (stat(all.dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      cg->dirs[cg->ndirs++] = all.dirs[i];
      if (all.dirs[i] == all.memory_dir) cg->memory_dir = all.dirs[i];
    } else {
      free(all.dirs[i]);
    }
  }
  if (cg->ndirs == 0) {
    set_err(err, errlen, "no cgroup %s: none of its directories exists", path);
    return -1;
  }
  return 0;
}

int cgroup_join(const struct cgroup *cg, pid_t pid) {
  char value[24];
  num(value, pid);
  for (size_t i = 0; i < cg->ndirs; i++) {
    if (write_value(cg->dirs[i], "cgroup.procs", value) < 0) return -1;
  }
  return 0;
}

/* 0 when cg has no memory controller, -1 with errno set when its counters cannot be read. */
long cgroup_oom_kills(const struct cgroup *cg) {
  if (!cg->memory_dir) return 0;
  char text[4096];
  if (read_small(cg->memory_dir, cg->v2 ? "memory.events" : "memory.oom_control", text, sizeof text) < 0) return -1;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "oom_kill ", 9) == 0) return strtol(line + 9, NULL, 10);
  }
  return 0; /* a kernel before 4.13 does not count OOM kills */
}

/* SIGKILL to every process listed in dir/cgroup.procs. */
static void kill_listed(const char *dir) {
  char path[PATH_MAX];
  if (file_path(path, dir, "cgroup.procs") < 0) return;
  FILE *f = fopen(path, "re");
  if (!f) return;
  long pid;
  while (fscanf(f, "%ld", &pid) == 1) {
    if (pid > 0) kill((pid_t)pid, SIGKILL);
  }
  fclose(f);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * rmdir, killing what keeps it busy until it goes. cgroup.kill (v2, Linux 5.14) kills the whole
 * cgroup at once, forks included; elsewhere the listed pids are killed and the list read again,
 * since a process may fork between the read and the kill. Dead processes leave the cgroup before
 * they are reaped, so this does not wait for anyone's parent.
 */
static int remove_dir(const char *dir) {
  long long deadline = now_ns() + REMOVE_DEADLINE_NS;
  struct timespec pause = {0, 100 * 1000};
  for (;;) {
    if (rmdir(dir) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return -1;
    if (write_value(dir, "cgroup.kill", "1") < 0) kill_listed(dir);
    if (now_ns() > deadline) {
      errno = EBUSY;
      return -1;
    }
    nanosleep(&pause, NULL);
    if (pause.tv_nsec < 10 * 1000 * 1000) pause.tv_nsec *= 2;
  }
}

int cgroup_remove(const struct cgroup *cg) {
  int rc = 0, saved = 0;
  for (size_t i = 0; i < cg->ndirs; i++) {
    if (remove_dir(cg->dirs[i]) < 0) {
      rc = -1;
      saved = errno;
    }
  }
  errno = saved;
  return rc;
}
