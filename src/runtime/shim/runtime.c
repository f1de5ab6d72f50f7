/*
 * The verbs of the OCI runtime command line (see README.md). `create` and `run -d` leave a
 * supervisor in its own session, a child of nobody the caller knows, so a worker can exit and find
 * its containers again; `run` in the foreground supervises from the command itself.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "exec.h"
#include "json.h"
#include "spec.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"

#define OCI_VERSION "1.0.2"

/* ---- options: "--name value", "--name=value", "-name", or a one-letter "-n value" ---- */

static bool option_name_is(const char *arg, const char *name, char letter, const char **rest) {
  const char *p = arg + 1;
  if (*p == '-') p++;
  size_t n = strlen(name);
  if (!strncmp(p, name, n) && (p[n] == '\0' || p[n] == '=')) return *rest = p + n, true;
  if (letter && arg[1] == letter && (arg[2] == '\0' || arg[2] == '=')) return *rest = arg + 2, true;
  return false;
}

static bool is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

/* The values of an option given more than once (--env), in order. */
struct strings {
  const char **items;
  size_t n;
};

struct option {
  const char *name;
  char letter; /* 0: none */
  enum { OPTION_VALUE, OPTION_FLAG, OPTION_LIST } kind;
  void *target; /* VALUE: const char **, FLAG: bool *, LIST: struct strings * */
};

/*
 * Takes the options at the front of argv, up to the first argument that is not one or just after
 * "--". Returns the index of the first argument left, or -1 once an unknown option or a missing
 * value is reported.
 */
static int parse_options(const char *command, int argc, char **argv, const struct option *options, size_t n) {
  int i = 0;
  for (; i < argc && is_option(argv[i]); i++) {
    if (!strcmp(argv[i], "--")) return i + 1;
    const struct option *o = NULL;
    const char *rest = NULL;
    for (size_t k = 0; k < n && !o; k++)
      if (option_name_is(argv[i], options[k].name, options[k].letter, &rest)) o = &options[k];
    if (!o || (o->kind == OPTION_FLAG && *rest)) {
      runtime_error("%s: unknown option %s", command, argv[i]);
      return -1;
    }
    if (o->kind == OPTION_FLAG) {
      *(bool *)o->target = true;
      continue;
    }
    const char *value;
    if (*rest == '=') {
      value = rest + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      runtime_error("--%s needs a value", o->name);
      return -1;
    }
    if (o->kind == OPTION_VALUE) {
      *(const char **)o->target = value;
    } else {
      struct strings *list = o->target;
      if (!list->items) list->items = xcalloc((size_t)argc, sizeof *list->items);
      list->items[list->n++] = value;
    }
  }
  return i;
}

#define NOPTIONS(options) (sizeof(options) / sizeof(options)[0])

/* The one ID argument a verb takes (plus `extra` more it reads itself), from argv[i]; i < 0: the
   options were bad (already reported). */
static const char *container_id(const char *command, int argc, char **argv, int i, int extra_max) {
  if (i < 0) return NULL;
  if (i >= argc) {
    runtime_error("%s: a container id is required", command);
    return NULL;
  }
  if (argc - i - 1 > extra_max) {
    runtime_error("%s: unexpected argument %s", command, argv[i + 1 + extra_max]);
    return NULL;
  }
  if (!state_valid_id(argv[i])) {
    runtime_error("%s: invalid container id \"%s\"", command, argv[i]);
    return NULL;
  }
  return argv[i];
}

static char *state_dir(const struct globals *g, const char *id) { return xasprintf("%s/%s", g->root, id); }

/* The reason a container without state.json has none. */
static void report_no_state(const char *id, int error, bool force_helps) {
  const char *hint = force_helps ? " (use --force to remove it)" : "";
  if (error == EINPROGRESS) runtime_error("container \"%s\" is being created%s", id, hint);
  else runtime_error("container \"%s\" was left half-created by a create that died%s", id, hint);
}

/* Reads the state of an existing container; reports why not. */
static int load_state(const struct globals *g, const char *id, char **dir, struct state *st) {
  *dir = state_dir(g, id);
  char err[512];
  if (access(*dir, F_OK) < 0) {
    runtime_error("container \"%s\" does not exist", id);
    return -1;
  }
  if (state_read(*dir, st, err, sizeof err) < 0) {
    if (errno == EINPROGRESS || errno == ENOENT) report_no_state(id, errno, false);
    else runtime_error("%s", err);
    return -1;
  }
  return 0;
}

static int write_pid_file(const char *path, pid_t pid) {
  if (!path) return 0;
  char text[32];
  int n = snprintf(text, sizeof text, "%d", (int)pid);
  if (write_file_atomic(path, text, (size_t)n, 0644) < 0) {
    runtime_error("pid file %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- create, run ---- */

enum start_mode { MODE_CREATE, MODE_RUN_DETACHED, MODE_RUN_FOREGROUND };

/* What a create knows before the container starts. */
struct creation {
  const char *id, *bundle, *dir;
  const struct spec *spec;
  char created[40]; /* RFC 3339 */
  int lock_fd;      /* the hold on the `creating` lock (state.h), let go once state.json is there */
};

static void fill_state(struct state *st, const struct creation *c, const struct supervisor *s) {
  st->id = (char *)c->id;
  st->bundle = (char *)c->bundle;
  st->created = (char *)c->created;
  st->cgroups_path = (char *)s->cgroups_path;
  st->annotations_json = c->spec->annotations_json;
  st->pid = s->init;
  st->pid_start_time = s->init_start_time;
  st->supervisor_pid = getpid();
  st->supervisor_start_time = proc_start_time(getpid());
}

static void detach_stdio(void) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return;
  dup2(null_fd, 0);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  if (null_fd > 2) close(null_fd);
}

/*
 * The detached supervisor, in a child of the command: its own session, so that it outlives the
 * command and whoever ran it. It reports on `report`: "R<init pid>" once the container waits for
 * start (or runs), or "E<reason>".
 */
static int supervise_detached(struct supervisor *s, const struct creation *c, int report) {
  char err[1024];
  setsid();
  if (supervisor_start(s, err, sizeof err) < 0) {
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "E%s", err);
    write_all(report, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    return 1;
  }
  struct state st;
  fill_state(&st, c, s);
  if (state_write(c->dir, &st) < 0) {
    char msg[600];
    int n = snprintf(msg, sizeof msg, "E%s/state.json: %s", c->dir, strerror(errno));
    kill(s->init, SIGKILL);
    waitpid(s->init, NULL, 0);
    cgroup_remove(&s->cgroup);
    write_all(report, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    return 1;
  }
  state_created(c->dir, c->lock_fd);
  /* Holding the caller's stdio would tie the caller to us: it would wait for EOF on its pipes. */
  detach_stdio();
  char msg[32];
  int n = snprintf(msg, sizeof msg, "R%d", (int)s->init);
  write_all(report, msg, (size_t)n);
  close(report);
  supervisor_run(s);
  return 0;
}

/* `run` in the foreground: this process supervises, passing signals on, and deletes the container
   once it has ended, as `runc run` does. Returns the container's exit code. */
static int run_foreground(struct supervisor *s, const struct creation *c, const char *pid_file) {
  char err[1024];
  s->forward_signals = true;
  if (supervisor_start(s, err, sizeof err) < 0) {
    state_remove(c->dir);
    runtime_error("container did not start: %s", err);
    return 1;
  }
  struct state st;
  fill_state(&st, c, s);
  if (state_write(c->dir, &st) < 0) runtime_error("%s/state.json: %s", c->dir, strerror(errno));
  state_created(c->dir, c->lock_fd);
  write_pid_file(pid_file, s->init);
  int code = supervisor_run(s);
  cgroup_remove(&s->cgroup);
  state_remove(c->dir);
  return code;
}

static int start_container(const struct globals *g, const char *command, enum start_mode mode, int argc,
                           char **argv) {
  const char *bundle_arg = ".", *pid_file = NULL;
  bool detach = false;
  const struct option options[] = {
      {"bundle", 'b', OPTION_VALUE, &bundle_arg},
      {"pid-file", 0, OPTION_VALUE, &pid_file},
      {"detach", 'd', OPTION_FLAG, &detach}, /* last: `create` takes all but this one */
  };
  int i = parse_options(command, argc, argv, options, NOPTIONS(options) - (mode == MODE_CREATE));
  const char *id = container_id(command, argc, argv, i, 0);
  if (!id) return 1;
  if (mode == MODE_RUN_FOREGROUND && detach) mode = MODE_RUN_DETACHED;

  char bundle[PATH_MAX];
  if (!realpath(bundle_arg, bundle)) {
    runtime_error("bundle %s: %s", bundle_arg, strerror(errno));
    return 1;
  }
  static struct spec spec;
  char err[1024];
  if (spec_load(bundle, &spec, err, sizeof err) < 0) {
    runtime_error("%s", err);
    return 1;
  }

  static struct supervisor s;
  s.spec = &spec;
  s.id = id;
  s.cgroups_path = spec.cgroups_path ? spec.cgroups_path : xasprintf("/shoal/%s", id);
  if (mkdir(g->root, 0711) < 0 && errno != EEXIST) {
    runtime_error("state root %s: %s", g->root, strerror(errno));
    return 1;
  }
  struct creation c = {.id = id, .bundle = bundle, .dir = state_dir(g, id), .spec = &spec};
  c.lock_fd = state_create(g->root, id, bundle, s.cgroups_path);
  if (c.lock_fd < 0) {
    if (errno == EEXIST) runtime_error("container \"%s\" already exists", id);
    else runtime_error("%s: %s", c.dir, strerror(errno));
    return 1;
  }
  if (mode == MODE_CREATE) {
    s.fifo_path = xasprintf("%s/exec.fifo", c.dir);
    if (mkfifo(s.fifo_path, 0600) < 0) {
      runtime_error("%s: %s", s.fifo_path, strerror(errno));
      state_remove(c.dir);
      return 1;
    }
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  format_time(c.created, sizeof c.created, &now);
  if (mode == MODE_RUN_FOREGROUND) return run_foreground(&s, &c, pid_file);

  s.exit_path = xasprintf("%s/exit", c.dir);
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) {
    runtime_error("pipe: %s", strerror(errno));
    state_remove(c.dir);
    return 1;
  }
  pid_t supervisor = fork();
  if (supervisor < 0) {
    runtime_error("fork: %s", strerror(errno));
    state_remove(c.dir);
    return 1;
  }
  if (supervisor == 0) {
    close(report[0]);
    _exit(supervise_detached(&s, &c, report[1]));
  }
  close(report[1]);
  char msg[1200];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof msg - 1 && ((n = read(report[0], msg + len, sizeof msg - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) len += (size_t)n;
  msg[len] = '\0';
  if (len > 1 && msg[0] == 'R') return write_pid_file(pid_file, (pid_t)atoi(msg + 1)) < 0 ? 1 : 0;
  /* A failed supervisor exits straight away; a working one is left running, unreaped by us. */
  waitpid(supervisor, NULL, 0);
  state_remove(c.dir);
  runtime_error("container did not start: %s", len > 1 ? msg + 1 : "the supervisor exited without a reason");
  return 1;
}

int cmd_create(const struct globals *g, int argc, char **argv) {
  return start_container(g, "create", MODE_CREATE, argc, argv);
}

int cmd_run(const struct globals *g, int argc, char **argv) {
  return start_container(g, "run", MODE_RUN_FOREGROUND, argc, argv);
}

/* ---- start, state, kill, delete ---- */

int cmd_start(const struct globals *g, int argc, char **argv) {
  const char *id = container_id("start", argc, argv, parse_options("start", argc, argv, NULL, 0), 0);
  char *dir;
  struct state st;
  if (!id || load_state(g, id, &dir, &st) < 0) return 1;
  enum status status = state_status(dir, &st);
  if (status != STATUS_CREATED) {
    runtime_error("cannot start a container that is %s", status_name(status));
    return 1;
  }
  char *fifo = xasprintf("%s/exec.fifo", dir);
  /* Non-blocking: with no init holding the fifo open the open fails (ENXIO) instead of hanging. */
  int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    runtime_error("cannot start container \"%s\": %s", id, errno == ENXIO ? "its init is not waiting" : strerror(errno));
    return 1;
  }
  int r = write_all(fd, "0", 1);
  close(fd);
  if (r < 0) {
    runtime_error("start %s: %s", id, strerror(errno));
    return 1;
  }
  unlink(fifo);
  return 0;
}

int cmd_state(const struct globals *g, int argc, char **argv) {
  const char *id = container_id("state", argc, argv, parse_options("state", argc, argv, NULL, 0), 0);
  if (!id) return 1;
  char *dir = state_dir(g, id);
  struct state st;
  char err[512];
  if (access(dir, F_OK) < 0) {
    runtime_error("container \"%s\" does not exist", id);
    return 1;
  }
  struct buf b = {0};
  if (state_read(dir, &st, err, sizeof err) < 0) {
    if (errno != EINPROGRESS) {
      if (errno == ENOENT) report_no_state(id, errno, false);
      else runtime_error("%s", err);
      return 1;
    }
    /* All there is to say before state.json: who it is and where its bundle is. */
    buf_printf(&b, "{\"ociVersion\":\"%s\",\"id\":", OCI_VERSION);
    buf_json_string(&b, id, strlen(id));
    buf_puts(&b, ",\"status\":\"creating\",\"pid\":0,\"bundle\":");
    buf_json_string(&b, st.bundle ? st.bundle : "", st.bundle ? strlen(st.bundle) : 0);
    buf_puts(&b, "}\n");
    return write_all(1, b.data, b.len) < 0;
  }
  enum status status = state_status(dir, &st);
  buf_printf(&b, "{\"ociVersion\":\"%s\",\"id\":", OCI_VERSION);
  buf_json_string(&b, st.id, strlen(st.id));
  buf_printf(&b, ",\"status\":\"%s\",\"pid\":%d,\"bundle\":", status_name(status),
             status == STATUS_STOPPED ? 0 : (int)st.pid);
  buf_json_string(&b, st.bundle, strlen(st.bundle));
  buf_puts(&b, ",\"annotations\":");
  buf_puts(&b, st.annotations_json);
  buf_puts(&b, ",\"created\":");
  buf_json_string(&b, st.created, strlen(st.created));
  int code;
  bool oom;
  char *exit_path = xasprintf("%s/exit", dir);
  if (status == STATUS_STOPPED && exit_record_read(exit_path, &code, &oom) == 0)
    buf_printf(&b, ",\"exitCode\":%d,\"oomKilled\":%s", code, oom ? "true" : "false");
  buf_puts(&b, "}\n");
  return write_all(1, b.data, b.len) < 0;
}

int cmd_kill(const struct globals *g, int argc, char **argv) {
  int i = parse_options("kill", argc, argv, NULL, 0);
  const char *id = container_id("kill", argc, argv, i, 1);
  char *dir;
  struct state st;
  if (!id || load_state(g, id, &dir, &st) < 0) return 1;
  const char *name = i + 1 < argc ? argv[i + 1] : "TERM";
  int sig = signal_from_name(name);
  if (sig < 0) {
    runtime_error("kill: unknown signal \"%s\"", name);
    return 1;
  }
  enum status status = state_status(dir, &st);
  if (status != STATUS_CREATED && status != STATUS_RUNNING) {
    runtime_error("cannot kill a container that is %s", status_name(status));
    return 1;
  }
  if (kill(st.pid, sig) < 0) {
    runtime_error("kill %d: %s", (int)st.pid, strerror(errno));
    return 1;
  }
  return 0;
}

/* Waits (a bounded while) for the supervisor to record the end and go; SIGKILL if it lingers. */
static void wait_supervisor(const struct state *st) {
  for (int i = 0; i < 1000 && state_process_alive(st->supervisor_pid, st->supervisor_start_time); i++) {
    struct timespec tick = {0, 5 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  if (state_process_alive(st->supervisor_pid, st->supervisor_start_time)) kill(st->supervisor_pid, SIGKILL);
}

/* Removes the container's cgroup, if it has one yet, killing what is in it. */
static int remove_cgroup(const char *cgroups_path) {
  struct cgroup cg;
  char err[512];
  if (!cgroups_path || cgroup_open(cgroups_path, &cg, err, sizeof err) < 0) return 0;
  if (cgroup_remove(&cg) == 0) return 0;
  runtime_error("remove cgroup %s: %s", cgroups_path, strerror(errno));
  return -1;
}

int cmd_delete(const struct globals *g, int argc, char **argv) {
  bool force = false;
  const struct option options[] = {{"force", 'f', OPTION_FLAG, &force}};
  int i = parse_options("delete", argc, argv, options, NOPTIONS(options));
  const char *id = container_id("delete", argc, argv, i, 0);
  if (!id) return 1;
  char *dir = state_dir(g, id);
  if (access(dir, F_OK) < 0) {
    if (force) return 0;
    runtime_error("container \"%s\" does not exist", id);
    return 1;
  }
  struct state st;
  char err[512];
  if (state_read(dir, &st, err, sizeof err) < 0) {
    if (errno != EINPROGRESS && errno != ENOENT) {
      runtime_error("%s", err);
      return 1;
    }
    if (!force) {
      report_no_state(id, errno, true);
      return 1;
    }
    /* Without state.json there is no process to name, but the cgroup `creating` names holds
       them all: removing it kills an init stuck in its setup, so its create fails, not hangs. */
    if (remove_cgroup(st.cgroups_path) < 0) return 1;
  } else {
    enum status status = state_status(dir, &st);
    if (status == STATUS_RUNNING && !force) {
      runtime_error("cannot delete a running container (stop it first, or use --force)");
      return 1;
    }
    if (status != STATUS_STOPPED) kill(st.pid, SIGKILL);
    wait_supervisor(&st);
    if (remove_cgroup(st.cgroups_path) < 0) return 1;
  }
  if (state_remove(dir) < 0) {
    runtime_error("remove %s: %s", dir, strerror(errno));
    return 1;
  }
  return 0;
}

/* ---- exec ---- */

/* env with each --env KEY=value replacing its key or added at the end. */
static char **merge_env(char **env, size_t nenv, const struct strings *extra) {
  char **out = xcalloc(nenv + extra->n + 1, sizeof *out);
  size_t n = 0;
  for (size_t i = 0; i < nenv; i++) out[n++] = env[i];
  for (size_t k = 0; k < extra->n; k++) {
    size_t keylen = strcspn(extra->items[k], "=");
    size_t j = 0;
    while (j < n && !(strncmp(out[j], extra->items[k], keylen) == 0 && out[j][keylen] == '=')) j++;
    out[j] = (char *)extra->items[k];
    if (j == n) n++;
  }
  return out;
}

static int parse_user(const char *text, uid_t *uid, gid_t *gid) {
  char *end;
  errno = 0;
  unsigned long u = strtoul(text, &end, 10);
  if (errno || end == text || u > UINT32_MAX - 1 || (*end && *end != ':')) return -1;
  *uid = (uid_t)u;
  if (*end == ':') {
    const char *g = end + 1;
    unsigned long v = strtoul(g, &end, 10);
    if (errno || end == g || *end || v > UINT32_MAX - 1) return -1;
    *gid = (gid_t)v;
  }
  return 0;
}

/*
 * Blocks the signals `exec` passes on (and SIGCHLD) and returns a signalfd for them, so that none
 * sent while the process starts is lost; -1 once reported.
 */
static int forwarding_signalfd(void) {
  sigset_t mask;
  forwarded_signals(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int fd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (fd < 0) runtime_error("signalfd: %s", strerror(errno));
  return fd;
}

/* Waits for the exec'd command, passing on what comes through the signalfd; returns its exit code. */
static int wait_forwarding(pid_t pid, int signal_fd) {
  for (;;) {
    struct signalfd_siginfo si;
    ssize_t n = read(signal_fd, &si, sizeof si);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof si) {
      runtime_error("signalfd: %s", n < 0 ? strerror(errno) : "short read");
      return 1;
    }
    if (si.ssi_signo != SIGCHLD) {
      kill(pid, (int)si.ssi_signo);
      continue;
    }
    /* A SIGCHLD may be the go-between's that exec_start has reaped; only the command's ends this. */
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return exit_code(status);
  }
}

int cmd_exec(const struct globals *g, int argc, char **argv) {
  const char *cwd = NULL, *user = NULL;
  struct strings extra_env = {0};
  bool detach = false;
  const struct option options[] = {
      {"cwd", 0, OPTION_VALUE, &cwd},
      {"user", 'u', OPTION_VALUE, &user},
      {"env", 'e', OPTION_LIST, &extra_env},
      {"detach", 'd', OPTION_FLAG, &detach},
  };
  int i = parse_options("exec", argc, argv, options, NOPTIONS(options));
  if (i < 0) return 1;
  for (size_t k = 0; k < extra_env.n; k++)
    if (!strchr(extra_env.items[k], '=') || extra_env.items[k][0] == '=') {
      runtime_error("exec: --env wants KEY=value, not \"%s\"", extra_env.items[k]);
      return 1;
    }
  if (i + 1 >= argc) {
    runtime_error("exec: a container id and a command are required");
    return 1;
  }
  const char *id = argv[i];
  if (!state_valid_id(id)) {
    runtime_error("exec: invalid container id \"%s\"", id);
    return 1;
  }
  char *dir;
  struct state st;
  if (load_state(g, id, &dir, &st) < 0) return 1;
  enum status status = state_status(dir, &st);
  if (status != STATUS_RUNNING) {
    runtime_error("cannot exec in a container that is %s", status_name(status));
    return 1;
  }
  static struct spec spec;
  char err[1024];
  if (spec_load(st.bundle, &spec, err, sizeof err) < 0) {
    runtime_error("%s", err);
    return 1;
  }
  if (cwd && cwd[0] != '/') {
    runtime_error("exec: --cwd must be an absolute path");
    return 1;
  }
  struct exec_request req = {
      .init_pid = st.pid,
      .args = argv + i + 1,
      .env = merge_env(spec.env, spec.nenv, &extra_env),
      .cwd = cwd ? cwd : spec.cwd,
      .uid = spec.uid,
      .gid = spec.gid,
      .additional_gids = spec.additional_gids,
      .nadditional_gids = spec.nadditional_gids,
      .caps = spec.has_caps ? &spec.caps : NULL,
      .no_new_privileges = spec.no_new_privileges,
      .seccomp = spec.has_seccomp ? &spec.seccomp_filter : NULL,
      .rlimits = spec.rlimits,
      .nrlimits = spec.nrlimits,
      .has_oom_score_adj = spec.has_oom_score_adj,
      .oom_score_adj = spec.oom_score_adj,
  };
  if (user) {
    /* Another user than the container's: group 0 unless given (as Docker without a passwd entry),
       and none of the container's additional groups. */
    req.gid = 0;
    if (parse_user(user, &req.uid, &req.gid) < 0) {
      runtime_error("exec: --user wants UID or UID:GID, not \"%s\"", user);
      return 1;
    }
    req.additional_gids = NULL;
    req.nadditional_gids = 0;
  }
  struct cgroup cg;
  if (cgroup_open(st.cgroups_path, &cg, err, sizeof err) < 0) {
    runtime_error("exec in \"%s\": cgroup %s: %s", id, st.cgroups_path, err);
    return 1;
  }
  req.cgroup = &cg;
  /* In the foreground, signals to this command are the exec'd process's, as under runc. */
  int signal_fd = detach ? -1 : forwarding_signalfd();
  if (!detach && signal_fd < 0) return 1;
  pid_t pid = exec_start(&req, err, sizeof err);
  if (pid < 0) {
    runtime_error("exec in \"%s\": %s", id, err);
    return 1;
  }
  return detach ? 0 : wait_forwarding(pid, signal_fd);
}

/* ---- spec ---- */

static const char template_config[] =
    "{\n"
    "  \"ociVersion\": \"" OCI_VERSION "\",\n"
    "  \"process\": {\n"
    "    \"terminal\": false,\n"
    "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
    "    \"args\": [\"sh\"],\n"
    "    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\"],\n"
    "    \"cwd\": \"/\",\n"
    "    \"capabilities\": {\n"
    "      \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
    "      \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
    "      \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
    "    },\n"
    "    \"rlimits\": [{ \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 }],\n"
    "    \"noNewPrivileges\": true\n"
    "  },\n"
    "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
    "  \"hostname\": \"shoal\",\n"
    "  \"mounts\": [\n"
    "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"] },\n"
    "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
    "      \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"] },\n"
    "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
    "      \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"] },\n"
    "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
    "      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"] },\n"
    "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"] },\n"
    "    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"] }\n"
    "  ],\n"
    "  \"linux\": {\n"
    "    \"namespaces\": [{ \"type\": \"pid\" }, { \"type\": \"ipc\" }, { \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"network\" }],\n"
    "    \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\",\n"
    "      \"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", \"/proc/scsi\", \"/sys/firmware\"],\n"
    "    \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]\n"
    "  }\n"
    "}\n";

int cmd_spec(const struct globals *g, int argc, char **argv) {
  (void)g;
  const char *bundle = ".";
  const struct option options[] = {{"bundle", 'b', OPTION_VALUE, &bundle}};
  int i = parse_options("spec", argc, argv, options, NOPTIONS(options));
  if (i < 0) return 1;
  if (i < argc) {
    runtime_error("spec: unexpected argument %s", argv[i]);
    return 1;
  }
  char *path = xasprintf("%s/config.json", bundle);
  /* Never over a config someone wrote. */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    runtime_error("%s: %s", path, errno == EEXIST ? "already exists" : strerror(errno));
    return 1;
  }
  int r = write_all(fd, template_config, sizeof template_config - 1);
  if (close(fd) < 0 || r < 0) {
    runtime_error("%s: %s", path, strerror(errno));
    return 1;
  }
  return 0;
}
