/*
 * config.json into struct spec (spec.h). Every field the runtime acts on is checked here, so that a
 * bad config fails with one line naming the field before any state, cgroup or process exists.
 */
#define _GNU_SOURCE
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "caps.h"
#include "json.h"
#include "seccomp.h"
#include "util.h"

struct ctx {
  char *err;
  size_t errlen;
};

static int bad(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* The member as the given type; NULL when absent or null. A wrong type is an error naming field. */
static int member(struct ctx *c, const struct json *obj, const char *key, const char *field, enum json_type type,
                  struct json **out) {
  struct json *v = json_get(obj, key);
  *out = NULL;
  if (!v || v->type == JSON_NULL) return 0;
  if (v->type != type) return bad(c, "%s must be %s, not %s", field, json_type_name(type), json_type_name(v->type));
  *out = v;
  return 0;
}

static int string_value(struct ctx *c, const struct json *v, const char *field, char **out) {
  if (v->type != JSON_STRING) return bad(c, "%s must be a string, not %s", field, json_type_name(v->type));
  if (strlen(v->text) != v->len) return bad(c, "%s holds a NUL character", field);
  *out = v->text;
  return 0;
}

static int get_string(struct ctx *c, const struct json *obj, const char *key, const char *field, char **out) {
  struct json *v;
  *out = NULL;
  if (member(c, obj, key, field, JSON_STRING, &v) < 0) return -1;
  return v ? string_value(c, v, field, out) : 0;
}

static int get_bool(struct ctx *c, const struct json *obj, const char *key, const char *field, bool *out) {
  struct json *v;
  if (member(c, obj, key, field, JSON_BOOL, &v) < 0) return -1;
  if (v) *out = v->boolean;
  return 0;
}

/* An integer member within [min, max]; *present tells whether it was there. */
static int get_int(struct ctx *c, const struct json *obj, const char *key, const char *field, int64_t min, int64_t max,
                   int64_t *out, bool *present) {
  struct json *v;
  if (present) *present = false;
  if (member(c, obj, key, field, JSON_NUMBER, &v) < 0) return -1;
  if (!v) return 0;
  int64_t n;
  if (json_int64(v, &n) < 0 || n < min || n > max)
    return bad(c, "%s must be an integer from %lld to %lld, not %s", field, (long long)min, (long long)max, v->text);
  *out = n;
  if (present) *present = true;
  return 0;
}

static int get_uint64(struct ctx *c, const struct json *obj, const char *key, const char *field, uint64_t *out) {
  struct json *v;
  if (member(c, obj, key, field, JSON_NUMBER, &v) < 0) return -1;
  if (v && json_uint64(v, out) < 0) return bad(c, "%s must be an unsigned 64-bit integer, not %s", field, v->text);
  return 0;
}

/* A NULL-terminated copy of an array of strings. */
static int get_strings(struct ctx *c, const struct json *obj, const char *key, const char *field, char ***out,
                       size_t *n) {
  struct json *v;
  *out = NULL;
  *n = 0;
  if (member(c, obj, key, field, JSON_ARRAY, &v) < 0) return -1;
  if (!v) return 0;
  char **list = xcalloc(v->n + 1, sizeof *list);
  for (size_t i = 0; i < v->n; i++) {
    char name[128];
    snprintf(name, sizeof name, "%s[%zu]", field, i);
    if (string_value(c, v->items[i], name, &list[i]) < 0) return -1;
  }
  *out = list;
  *n = v->n;
  return 0;
}

static int absolute_clean(struct ctx *c, const char *path, const char *field) {
  if (path[0] != '/') return bad(c, "%s must be an absolute path, not \"%s\"", field, path);
  for (const char *p = path; (p = strstr(p, "/..")) != NULL; p += 3)
    if (p[3] == '/' || p[3] == '\0') return bad(c, "%s must not contain \"..\": \"%s\"", field, path);
  return 0;
}

/* ---- process ---- */

static int load_capability_set(struct ctx *c, const struct json *obj, const char *key, uint64_t *mask) {
  char field[128];
  snprintf(field, sizeof field, "process.capabilities.%s", key);
  char **names;
  size_t n;
  if (get_strings(c, obj, key, field, &names, &n) < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    int cap = cap_from_name(names[i]);
    if (cap < 0 || cap > 63) return bad(c, "%s: unknown capability \"%s\"", field, names[i]);
    *mask |= 1ULL << cap;
  }
  return 0;
}

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},   {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int load_rlimits(struct ctx *c, const struct json *process, struct spec *s) {
  struct json *list;
  if (member(c, process, "rlimits", "process.rlimits", JSON_ARRAY, &list) < 0) return -1;
  if (!list) return 0;
  s->rlimits = xcalloc(list->n, sizeof *s->rlimits);
  for (size_t i = 0; i < list->n; i++) {
    char field[128];
    snprintf(field, sizeof field, "process.rlimits[%zu]", i);
    struct json *r = list->items[i];
    if (r->type != JSON_OBJECT) return bad(c, "%s must be an object", field);
    char *type;
    char sub[192];
    snprintf(sub, sizeof sub, "%s.type", field);
    if (get_string(c, r, "type", sub, &type) < 0) return -1;
    if (!type) return bad(c, "%s is required", sub);
    int resource = -1;
    for (size_t k = 0; k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
      if (!strcmp(type, rlimit_names[k].name)) resource = rlimit_names[k].resource;
    if (resource < 0) return bad(c, "%s: unknown rlimit \"%s\"", sub, type);
    for (size_t k = 0; k < s->nrlimits; k++)
      if (s->rlimits[k].resource == resource) return bad(c, "%s: \"%s\" given twice", sub, type);
    struct spec_rlimit *rl = &s->rlimits[s->nrlimits++];
    rl->resource = resource;
    snprintf(sub, sizeof sub, "%s.soft", field);
    if (!json_get(r, "soft")) return bad(c, "%s is required", sub);
    if (get_uint64(c, r, "soft", sub, &rl->soft) < 0) return -1;
    snprintf(sub, sizeof sub, "%s.hard", field);
    if (!json_get(r, "hard")) return bad(c, "%s is required", sub);
    if (get_uint64(c, r, "hard", sub, &rl->hard) < 0) return -1;
    if (rl->soft > rl->hard) return bad(c, "%s: soft limit above the hard one", field);
  }
  return 0;
}

static int load_process(struct ctx *c, const struct json *root, struct spec *s) {
  struct json *p;
  if (member(c, root, "process", "process", JSON_OBJECT, &p) < 0) return -1;
  if (!p) return bad(c, "process is required");
  if (get_bool(c, p, "terminal", "process.terminal", &s->terminal) < 0) return -1;
  if (s->terminal) return bad(c, "process.terminal: terminals are not supported");
  if (get_strings(c, p, "args", "process.args", &s->args, &s->nargs) < 0) return -1;
  if (s->nargs == 0) return bad(c, "process.args must name a program");
  if (s->args[0][0] == '\0') return bad(c, "process.args[0] is empty");
  if (get_strings(c, p, "env", "process.env", &s->env, &s->nenv) < 0) return -1;
  if (!s->env) s->env = xcalloc(1, sizeof *s->env);
  for (size_t i = 0; i < s->nenv; i++)
    if (!strchr(s->env[i], '=') || s->env[i][0] == '=')
      return bad(c, "process.env[%zu] must be KEY=value, not \"%s\"", i, s->env[i]);
  if (get_string(c, p, "cwd", "process.cwd", &s->cwd) < 0) return -1;
  if (!s->cwd) return bad(c, "process.cwd is required");
  if (s->cwd[0] != '/') return bad(c, "process.cwd must be an absolute path, not \"%s\"", s->cwd);

  struct json *user;
  if (member(c, p, "user", "process.user", JSON_OBJECT, &user) < 0) return -1;
  int64_t id = 0;
  if (get_int(c, user, "uid", "process.user.uid", 0, UINT32_MAX - 1, &id, NULL) < 0) return -1;
  s->uid = (uid_t)id;
  id = 0;
  if (get_int(c, user, "gid", "process.user.gid", 0, UINT32_MAX - 1, &id, NULL) < 0) return -1;
  s->gid = (gid_t)id;
  struct json *groups;
  if (member(c, user, "additionalGids", "process.user.additionalGids", JSON_ARRAY, &groups) < 0) return -1;
  if (groups) {
    s->additional_gids = xcalloc(groups->n, sizeof *s->additional_gids);
    for (size_t i = 0; i < groups->n; i++) {
      int64_t g;
      if (groups->items[i]->type != JSON_NUMBER || json_int64(groups->items[i], &g) < 0 || g < 0 || g > UINT32_MAX - 1)
        return bad(c, "process.user.additionalGids[%zu] must be a group id", i);
      s->additional_gids[s->nadditional_gids++] = (gid_t)g;
    }
  }

  struct json *caps;
  if (member(c, p, "capabilities", "process.capabilities", JSON_OBJECT, &caps) < 0) return -1;
  if (caps) {
    s->has_caps = true;
    if (load_capability_set(c, caps, "bounding", &s->caps.bounding) < 0 ||
        load_capability_set(c, caps, "effective", &s->caps.effective) < 0 ||
        load_capability_set(c, caps, "permitted", &s->caps.permitted) < 0 ||
        load_capability_set(c, caps, "inheritable", &s->caps.inheritable) < 0 ||
        load_capability_set(c, caps, "ambient", &s->caps.ambient) < 0)
      return -1;
  }
  if (load_rlimits(c, p, s) < 0) return -1;
  if (get_bool(c, p, "noNewPrivileges", "process.noNewPrivileges", &s->no_new_privileges) < 0) return -1;
  int64_t adj;
  if (get_int(c, p, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000, &adj, &s->has_oom_score_adj) < 0) return -1;
  if (s->has_oom_score_adj) s->oom_score_adj = (int)adj;
  return 0;
}

/* ---- root, hostname, mounts ---- */

static int load_root(struct ctx *c, const struct json *root, const char *bundle, struct spec *s) {
  struct json *r;
  if (member(c, root, "root", "root", JSON_OBJECT, &r) < 0) return -1;
  if (!r) return bad(c, "root is required");
  char *path;
  if (get_string(c, r, "path", "root.path", &path) < 0) return -1;
  if (!path || !*path) return bad(c, "root.path is required");
  s->root_path = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", bundle, path);
  struct stat st;
  if (stat(s->root_path, &st) < 0) return bad(c, "root.path: %s: %s", s->root_path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return bad(c, "root.path: %s is not a directory", s->root_path);
  return get_bool(c, r, "readonly", "root.readonly", &s->root_readonly);
}

static const struct {
  const char *name;
  bool clear; /* the option turns the flag off ("rw", "suid", ...) */
  unsigned long flag;
} mount_flags[] = {
    {"async", true, MS_SYNCHRONOUS},    {"atime", true, MS_NOATIME},        {"bind", false, MS_BIND},
    {"defaults", false, 0},             {"dev", true, MS_NODEV},            {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},     {"exec", true, MS_NOEXEC},          {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},     {"nodev", false, MS_NODEV},         {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},       {"nomand", true, MS_MANDLOCK},      {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"nosuid", false, MS_NOSUID},  {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},   {"ro", false, MS_RDONLY},           {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},       {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

static const struct {
  const char *name;
  unsigned long flag;
} propagation_flags[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int load_mount(struct ctx *c, const struct json *m, size_t i, const char *bundle, struct spec_mount *out) {
  char field[128];
  snprintf(field, sizeof field, "mounts[%zu]", i);
  if (m->type != JSON_OBJECT) return bad(c, "%s must be an object", field);
  char sub[192];
  snprintf(sub, sizeof sub, "%s.destination", field);
  if (get_string(c, m, "destination", sub, &out->destination) < 0) return -1;
  if (!out->destination) return bad(c, "%s is required", sub);
  if (absolute_clean(c, out->destination, sub) < 0) return -1;
  snprintf(sub, sizeof sub, "%s.type", field);
  if (get_string(c, m, "type", sub, &out->type) < 0) return -1;
  snprintf(sub, sizeof sub, "%s.source", field);
  if (get_string(c, m, "source", sub, &out->source) < 0) return -1;
  char **options;
  size_t nopts;
  snprintf(sub, sizeof sub, "%s.options", field);
  if (get_strings(c, m, "options", sub, &options, &nopts) < 0) return -1;
  struct buf data = {0};
  for (size_t k = 0; k < nopts; k++) {
    const char *o = options[k];
    bool known = false;
    for (size_t f = 0; f < sizeof mount_flags / sizeof mount_flags[0] && !known; f++) {
      if (strcmp(o, mount_flags[f].name)) continue;
      known = true;
      if (mount_flags[f].clear) out->flags &= ~mount_flags[f].flag;
      else out->flags |= mount_flags[f].flag;
    }
    for (size_t f = 0; f < sizeof propagation_flags / sizeof propagation_flags[0] && !known; f++) {
      if (strcmp(o, propagation_flags[f].name)) continue;
      known = true;
      out->propagation = propagation_flags[f].flag;
    }
    /* What is not a flag is the filesystem's own option, passed on as mount data as runc does. */
    if (!known) {
      if (data.len) buf_add(&data, ",", 1);
      buf_puts(&data, o);
    }
  }
  out->data = data.data;
  bool bind = (out->flags & MS_BIND) || (out->type && !strcmp(out->type, "bind"));
  if (bind) {
    out->flags |= MS_BIND;
    out->type = NULL;
    if (!out->source || !*out->source) return bad(c, "%s.source is required for a bind mount", field);
    if (out->source[0] != '/') out->source = xasprintf("%s/%s", bundle, out->source);
  } else if (!out->type || !*out->type) {
    return bad(c, "%s.type is required (or a bind option)", field);
  }
  if (!out->source) out->source = out->type ? out->type : "none";
  return 0;
}

static int load_mounts(struct ctx *c, const struct json *root, const char *bundle, struct spec *s) {
  struct json *list;
  if (member(c, root, "mounts", "mounts", JSON_ARRAY, &list) < 0) return -1;
  if (!list) return 0;
  s->mounts = xcalloc(list->n, sizeof *s->mounts);
  for (size_t i = 0; i < list->n; i++)
    if (load_mount(c, list->items[i], i, bundle, &s->mounts[s->nmounts++]) < 0) return -1;
  return 0;
}

/* ---- lx ---- */

static int load_namespaces(struct ctx *c, const struct json *lx, struct spec *s) {
  static const struct {
    const char *name;
    int type;
  } kinds[] = {
      {"pid", CLONE_NEWPID},    {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
      {"ipc", CLONE_NEWIPC},    {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP},
  };
  struct json *list;
  if (member(c, lx, "namespaces", "linux.namespaces", JSON_ARRAY, &list) < 0) return -1;
  size_t n = list ? list->n : 0;
  bool mount = false;
  for (size_t i = 0; i < n; i++) {
    char field[128], sub[192];
    snprintf(field, sizeof field, "linux.namespaces[%zu]", i);
    struct json *ns = list->items[i];
    if (ns->type != JSON_OBJECT) return bad(c, "%s must be an object", field);
    char *type, *path;
    snprintf(sub, sizeof sub, "%s.type", field);
    if (get_string(c, ns, "type", sub, &type) < 0) return -1;
    if (!type) return bad(c, "%s is required", sub);
    snprintf(sub, sizeof sub, "%s.path", field);
    if (get_string(c, ns, "path", sub, &path) < 0) return -1;
    if (!strcmp(type, "user")) return bad(c, "%s: user namespaces are not supported", field);
    int kind = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
      if (!strcmp(type, kinds[k].name)) kind = kinds[k].type;
    if (!kind) return bad(c, "%s: unknown or unsupported namespace type \"%s\"", field, type);
    for (size_t k = 0; k < s->nnamespaces; k++)
      if (s->namespaces[k].type == kind) return bad(c, "%s: \"%s\" given twice", field, type);
    if (path && path[0] != '/') return bad(c, "%s.path must be absolute", field);
    if (path && kind == CLONE_NEWNS) return bad(c, "%s: joining a mount namespace is not supported", field);
    if (kind == CLONE_NEWNS) mount = true;
    s->namespaces[s->nnamespaces].type = kind;
    s->namespaces[s->nnamespaces++].path = path;
  }
  if (!mount) return bad(c, "linux.namespaces: a mount namespace is required");
  return 0;
}

static int load_resources(struct ctx *c, const struct json *lx, struct spec *s) {
  struct spec_resources *r = &s->resources;
  r->memory_limit = r->memory_swap = r->cpu_quota = r->pids_limit = -1;
  struct json *res, *mem, *cpu, *pids;
  if (member(c, lx, "resources", "linux.resources", JSON_OBJECT, &res) < 0) return -1;
  if (!res) return 0;
  if (member(c, res, "memory", "linux.resources.memory", JSON_OBJECT, &mem) < 0 ||
      get_int(c, mem, "limit", "linux.resources.memory.limit", -1, INT64_MAX, &r->memory_limit, NULL) < 0 ||
      get_int(c, mem, "swap", "linux.resources.memory.swap", -1, INT64_MAX, &r->memory_swap, NULL) < 0)
    return -1;
  if (r->memory_limit == 0) r->memory_limit = -1;
  if (r->memory_swap > 0 && r->memory_limit > 0 && r->memory_swap < r->memory_limit)
    return bad(c, "linux.resources.memory.swap must be at least memory.limit (it counts memory plus swap)");
  if (member(c, res, "cpu", "linux.resources.cpu", JSON_OBJECT, &cpu) < 0 ||
      get_int(c, cpu, "quota", "linux.resources.cpu.quota", -1, INT64_MAX, &r->cpu_quota, NULL) < 0 ||
      get_uint64(c, cpu, "period", "linux.resources.cpu.period", &r->cpu_period) < 0 ||
      get_uint64(c, cpu, "shares", "linux.resources.cpu.shares", &r->cpu_shares) < 0)
    return -1;
  if (r->cpu_quota == 0) r->cpu_quota = -1;
  if (member(c, res, "pids", "linux.resources.pids", JSON_OBJECT, &pids) < 0 ||
      get_int(c, pids, "limit", "linux.resources.pids.limit", INT64_MIN, INT64_MAX, &r->pids_limit, NULL) < 0)
    return -1;
  /* OCI: zero or below means unlimited. */
  if (r->pids_limit <= 0) r->pids_limit = -1;
  return 0;
}

static int load_seccomp_arg(struct ctx *c, const struct json *a, const char *field, struct spec_seccomp_arg *out) {
  if (a->type != JSON_OBJECT) return bad(c, "%s must be an object", field);
  char sub[256];
  int64_t index = -1;
  snprintf(sub, sizeof sub, "%s.index", field);
  if (get_int(c, a, "index", sub, 0, 5, &index, NULL) < 0) return -1;
  if (index < 0) return bad(c, "%s is required", sub);
  out->index = (unsigned)index;
  snprintf(sub, sizeof sub, "%s.value", field);
  if (get_uint64(c, a, "value", sub, &out->value) < 0) return -1;
  snprintf(sub, sizeof sub, "%s.valueTwo", field);
  if (get_uint64(c, a, "valueTwo", sub, &out->value_two) < 0) return -1;
  char *op;
  snprintf(sub, sizeof sub, "%s.op", field);
  if (get_string(c, a, "op", sub, &op) < 0) return -1;
  if (!op) return bad(c, "%s is required", sub);
  if (seccomp_op_from_name(op, &out->op) < 0) return bad(c, "%s: unknown operator \"%s\"", sub, op);
  return 0;
}

static int load_errno_ret(struct ctx *c, const struct json *obj, const char *key, const char *field, uint32_t *out) {
  int64_t v = EPERM;
  if (get_int(c, obj, key, field, 0, UINT32_MAX, &v, NULL) < 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int load_seccomp(struct ctx *c, const struct json *lx, struct spec *s) {
  struct json *sc;
  if (member(c, lx, "seccomp", "linux.seccomp", JSON_OBJECT, &sc) < 0) return -1;
  if (!sc) return 0;
  s->has_seccomp = true;
  struct spec_seccomp *out = &s->seccomp;
  char *action;
  if (get_string(c, sc, "defaultAction", "linux.seccomp.defaultAction", &action) < 0) return -1;
  if (!action) return bad(c, "linux.seccomp.defaultAction is required");
  if (seccomp_action_from_name(action, &out->default_action) < 0)
    return bad(c, "linux.seccomp.defaultAction: unknown action \"%s\"", action);
  if (load_errno_ret(c, sc, "defaultErrnoRet", "linux.seccomp.defaultErrnoRet", &out->default_errno_ret) < 0) return -1;
  struct json *rules;
  if (member(c, sc, "syscalls", "linux.seccomp.syscalls", JSON_ARRAY, &rules) < 0) return -1;
  size_t n = rules ? rules->n : 0;
  out->rules = xcalloc(n, sizeof *out->rules);
  for (size_t i = 0; i < n; i++) {
    char field[128], sub[192];
    snprintf(field, sizeof field, "linux.seccomp.syscalls[%zu]", i);
    struct json *r = rules->items[i];
    if (r->type != JSON_OBJECT) return bad(c, "%s must be an object", field);
    struct spec_seccomp_rule *rule = &out->rules[out->nrules++];
    snprintf(sub, sizeof sub, "%s.names", field);
    if (get_strings(c, r, "names", sub, &rule->names, &rule->nnames) < 0) return -1;
    if (rule->nnames == 0) return bad(c, "%s must name at least one system call", sub);
    snprintf(sub, sizeof sub, "%s.action", field);
    if (get_string(c, r, "action", sub, &action) < 0) return -1;
    if (!action) return bad(c, "%s is required", sub);
    if (seccomp_action_from_name(action, &rule->action) < 0) return bad(c, "%s: unknown action \"%s\"", sub, action);
    snprintf(sub, sizeof sub, "%s.errnoRet", field);
    if (load_errno_ret(c, r, "errnoRet", sub, &rule->errno_ret) < 0) return -1;
    struct json *args;
    snprintf(sub, sizeof sub, "%s.args", field);
    if (member(c, r, "args", sub, JSON_ARRAY, &args) < 0) return -1;
    if (!args) continue;
    rule->args = xcalloc(args->n, sizeof *rule->args);
    for (size_t k = 0; k < args->n; k++) {
      char arg[224];
      snprintf(arg, sizeof arg, "%s[%zu]", sub, k);
      if (load_seccomp_arg(c, args->items[k], arg, &rule->args[rule->nargs++]) < 0) return -1;
    }
  }
  char why[256] = "";
  if (seccomp_compile(out, &s->seccomp_filter, why, sizeof why) < 0) return bad(c, "linux.seccomp: %s", why);
  return 0;
}

/* Fields this runtime does not implement: present and not empty, they are refused, not ignored. */
static int refuse_unsupported(struct ctx *c, const struct json *root, const struct json *lx) {
  struct json *hooks = json_get(root, "hooks");
  if (hooks && hooks->type == JSON_OBJECT)
    for (size_t i = 0; i < hooks->n; i++)
      if (hooks->items[i]->type == JSON_ARRAY && hooks->items[i]->n > 0)
        return bad(c, "hooks.%s: hooks are not supported by this runtime", hooks->keys[i]);
  static const char *const in_linux[] = {"devices", "sysctl", "uidMappings", "gidMappings", "intelRdt"};
  for (size_t i = 0; i < sizeof in_linux / sizeof in_linux[0]; i++) {
    struct json *v = json_get(lx, in_linux[i]);
    if (!v || v->type == JSON_NULL || ((v->type == JSON_ARRAY || v->type == JSON_OBJECT) && v->n == 0)) continue;
    return bad(c, "linux.%s: not supported by this runtime", in_linux[i]);
  }
  return 0;
}

static int load_linux(struct ctx *c, const struct json *root, struct spec *s) {
  struct json *lx;
  if (member(c, root, "linux", "linux", JSON_OBJECT, &lx) < 0) return -1;
  if (!lx) return bad(c, "linux is required");
  if (refuse_unsupported(c, root, lx) < 0 || load_namespaces(c, lx, s) < 0) return -1;
  if (get_string(c, lx, "cgroupsPath", "linux.cgroupsPath", &s->cgroups_path) < 0) return -1;
  if (s->cgroups_path && !*s->cgroups_path) s->cgroups_path = NULL;
  if (s->cgroups_path && strstr(s->cgroups_path, ".."))
    return bad(c, "linux.cgroupsPath must not contain \"..\": \"%s\"", s->cgroups_path);
  if (load_resources(c, lx, s) < 0) return -1;
  if (get_strings(c, lx, "maskedPaths", "linux.maskedPaths", &s->masked_paths, &s->nmasked_paths) < 0 ||
      get_strings(c, lx, "readonlyPaths", "linux.readonlyPaths", &s->readonly_paths, &s->nreadonly_paths) < 0)
    return -1;
  for (size_t i = 0; i < s->nmasked_paths; i++)
    if (absolute_clean(c, s->masked_paths[i], "linux.maskedPaths") < 0) return -1;
  for (size_t i = 0; i < s->nreadonly_paths; i++)
    if (absolute_clean(c, s->readonly_paths[i], "linux.readonlyPaths") < 0) return -1;
  return load_seccomp(c, lx, s);
}

/* ---- annotations: shoal's settings ---- */

static int annotation_number(struct ctx *c, const char *key, const char *value, uint64_t min, uint64_t max,
                             uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(value, &end, 10);
  if (errno || !*value || *end || value[0] == '-' || n < min || n > max)
    return bad(c, "annotations.%s must be an integer from %llu to %llu, not \"%s\"", key, (unsigned long long)min,
               (unsigned long long)max, value);
  *out = n;
  return 0;
}

static int load_annotations(struct ctx *c, const struct json *root, struct spec *s) {
  s->log_max_files = 1;
  s->stop_signal = SIGTERM;
  s->stop_timeout = 10;
  struct json *a;
  if (member(c, root, "annotations", "annotations", JSON_OBJECT, &a) < 0) return -1;
  struct buf compact = {0};
  if (!a) {
    buf_puts(&compact, "{}");
    s->annotations_json = compact.data;
    return 0;
  }
  buf_json(&compact, a);
  s->annotations_json = compact.data;
  for (size_t i = 0; i < a->n; i++) {
    const char *key = a->keys[i];
    char field[300], *value;
    snprintf(field, sizeof field, "annotations.%s", key);
    if (string_value(c, a->items[i], field, &value) < 0) return -1;
    if (strncmp(key, "org.shoal.", 10) != 0) continue;
    uint64_t n;
    if (!strcmp(key, "org.shoal.log.path")) {
      if (value[0] != '/') return bad(c, "%s must be an absolute path, not \"%s\"", field, value);
      s->log_path = value;
    } else if (!strcmp(key, "org.shoal.log.max-size")) {
      if (annotation_number(c, key, value, 1, INT64_MAX, &n) < 0) return -1;
      s->log_max_size = n;
    } else if (!strcmp(key, "org.shoal.log.max-files")) {
      if (annotation_number(c, key, value, 1, 1000, &n) < 0) return -1;
      s->log_max_files = (unsigned)n;
    } else if (!strcmp(key, "org.shoal.stop-signal")) {
      s->stop_signal = signal_from_name(value);
      if (s->stop_signal < 0) return bad(c, "%s: unknown signal \"%s\"", field, value);
    } else if (!strcmp(key, "org.shoal.stop-timeout")) {
      if (annotation_number(c, key, value, 0, 86400 * 365, &n) < 0) return -1;
      s->stop_timeout = (int)n;
    } else if (!strcmp(key, "org.shoal.rootfs.lower")) {
      if (!*value) return bad(c, "%s is empty", field);
      s->overlay_lower = value;
    } else if (!strcmp(key, "org.shoal.rootfs.upper")) {
      s->overlay_upper = value;
    } else if (!strcmp(key, "org.shoal.rootfs.work")) {
      s->overlay_work = value;
    } else if (!strcmp(key, "org.shoal.dns.relay")) {
      struct sockaddr_un addr;
      if (value[0] != '/') return bad(c, "%s must be an absolute path, not \"%s\"", field, value);
      if (strlen(value) >= sizeof addr.sun_path)
        return bad(c, "%s: a unix socket path is at most %zu bytes", field, sizeof addr.sun_path - 1);
      s->dns_relay = value;
    } else {
      /* A misspelt setting would otherwise be silently ignored. */
      return bad(c, "%s: unknown shoal annotation", field);
    }
  }
  if (!s->overlay_upper != !s->overlay_work)
    return bad(c, "annotations: org.shoal.rootfs.upper and org.shoal.rootfs.work go together");
  if (s->overlay_upper && !s->overlay_lower)
    return bad(c, "annotations: org.shoal.rootfs.upper needs org.shoal.rootfs.lower");
  return 0;
}

int spec_load(const char *bundle, struct spec *out, char *err, size_t errlen) {
  struct ctx c = {err, errlen};
  err[0] = '\0';
  memset(out, 0, sizeof *out);
  char *path = xasprintf("%s/config.json", bundle);
  char *text;
  size_t len;
  if (read_file(path, &text, &len) < 0) return bad(&c, "%s: %s", path, strerror(errno));
  char why[256];
  struct json *root = json_parse(text, len, why, sizeof why);
  if (!root) return bad(&c, "%s: %s", path, why);
  if (root->type != JSON_OBJECT) return bad(&c, "%s: not a JSON object", path);
  if (load_process(&c, root, out) < 0 || load_root(&c, root, bundle, out) < 0 ||
      get_string(&c, root, "hostname", "hostname", &out->hostname) < 0 || load_mounts(&c, root, bundle, out) < 0 ||
      load_linux(&c, root, out) < 0 || load_annotations(&c, root, out) < 0)
    return -1;
  /* The relay listens in the container's own network; in the host's it would take the host's port 53. */
  if (out->dns_relay) {
    bool netns = false;
    for (size_t i = 0; i < out->nnamespaces; i++)
      if (out->namespaces[i].type == CLONE_NEWNET) netns = true;
    if (!netns) return bad(&c, "annotations.org.shoal.dns.relay needs a network namespace in linux.namespaces");
  }
  if (out->hostname) {
    bool own_uts = false;
    for (size_t i = 0; i < out->nnamespaces; i++)
      if (out->namespaces[i].type == CLONE_NEWUTS && !out->namespaces[i].path) own_uts = true;
    if (!own_uts) return bad(&c, "hostname needs a new uts namespace in linux.namespaces");
  }
  return 0;
}
