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

/* ---- option parsing: "--name value", "--name=value", "-name", or a one-letter "-n value" ---- */

static bool option_name_is(const char *arg, const char *name, char letter, const char **rest) {
  const char *p = arg + 1;
  if (*p == '-') p++;
  size_t n = strlen(name);
  if (!strncmp(p, name, n) && (p[n] == '\0' || p[n] == '=')) return *rest = p + n, true;
  if (letter && arg[1] == letter && (arg[2] == '\0' || arg[2] == '=')) return *rest = arg + 2, true;
  return false;
}

/* 1: matched (value set), 0: not this option, -1: matched without a value (reported). */
static int option_value(int argc, char **argv, int *i, const char *name, char letter, const char **value) {
  const char *rest;
  if (!option_name_is(argv[*i], name, letter, &rest)) return 0;
  if (*rest == '=') return *value = rest + 1, 1;
  if (*i + 1 >= argc) {
    runtime_error("--%s needs a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

static bool option_flag(const char *arg, const char *name, char letter) {
  const char *rest;
  return option_name_is(arg, name, letter, &rest) && *rest == '\0';
}

static bool is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

static int unknown_option(const char *command, const char *arg) {
  runtime_error("%s: unknown option %s", command, arg);
  return 1;
}

/* The one ID argument a verb takes (plus `extra` more it reads itself). */
static const char *container_id(const char *command, int argc, char **argv, int i, int extra_max) {
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

/* Reads the state of an existing container; reports why not. */
static int load_state(const struct globals *g, const char *id, char **dir, struct state *st) {
  *dir = state_dir(g, id);
  char err[512];
  if (access(*dir, F_OK) < 0) {
    runtime_error("container \"%s\" does not exist", id);
    return -1;
  }
  if (state_read(*dir, st, err, sizeof err) < 0) {
    if (errno == ENOENT) runtime_error("container \"%s\" is still being created", id);
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

static void fill_state(struct state *st, const char *id, const char *bundle, const struct spec *spec,
                       const struct supervisor *s, const char *created) {
  st->id = (char *)id;
  st->bundle = (char *)bundle;
  st->created = (char *)created;
  st->cgroups_path = (char *)s->cgroups_path;
  st->annotations_json = spec->annotations_json;
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
static int supervise_detached(struct supervisor *s, int report, const char *id, const char *bundle,
                              const struct spec *spec, const char *dir, const char *created) {
  char err[1024];
  setsid();
  if (supervisor_start(s, err, sizeof err) < 0) {
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "E%s", err);
    write_all(report, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    return 1;
  }
  struct state st;
  fill_state(&st, id, bundle, spec, s, created);
  if (state_write(dir, &st) < 0) {
    char msg[600];
    int n = snprintf(msg, sizeof msg, "E%s/state.json: %s", dir, strerror(errno));
    kill(s->init, SIGKILL);
    waitpid(s->init, NULL, 0);
    cgroup_remove(&s->cgroup);
    write_all(report, msg, (size_t)n);
    return 1;
  }
  /* Holding the caller's stdio would tie the caller to us: it would wait for EOF on its pipes. */
  detach_stdio();
  char msg[32];
  int n = snprintf(msg, sizeof msg, "R%d", (int)s->init);
  write_all(report, msg, (size_t)n);
  close(report);
  supervisor_run(s);
  return 0;
}

static int start_container(const struct globals *g, const char *command, enum start_mode mode, int argc,
                           char **argv) {
  const char *bundle_arg = ".", *pid_file = NULL;
  bool detach = false;
  int i = 0;
  for (; i < argc && is_option(argv[i]); i++) {
    if (!strcmp(argv[i], "--")) {
      i++;
      break;
    }
    int r;
    if ((r = option_value(argc, argv, &i, "bundle", 'b', &bundle_arg)) != 0 ||
        (r = option_value(argc, argv, &i, "pid-file", 0, &pid_file)) != 0) {
      if (r < 0) return 1;
    } else if (mode != MODE_CREATE && option_flag(argv[i], "detach", 'd')) {
      detach = true;
    } else {
      return unknown_option(command, argv[i]);
    }
  }
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

  if (mkdir(g->root, 0711) < 0 && errno != EEXIST) {
    runtime_error("state root %s: %s", g->root, strerror(errno));
    return 1;
  }
  char *dir = state_dir(g, id);
  if (mkdir(dir, 0700) < 0) {
    if (errno == EEXIST) runtime_error("container \"%s\" already exists", id);
    else runtime_error("%s: %s", dir, strerror(errno));
    return 1;
  }
  static struct supervisor s;
  s.spec = &spec;
  s.cgroups_path = spec.cgroups_path ? spec.cgroups_path : xasprintf("/shoal/%s", id);
  if (mode == MODE_CREATE) {
    s.fifo_path = xasprintf("%s/exec.fifo", dir);
    if (mkfifo(s.fifo_path, 0600) < 0) {
      runtime_error("%s: %s", s.fifo_path, strerror(errno));
      state_remove(dir);
      return 1;
    }
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char created[40];
  format_time(created, sizeof created, &now);

  if (mode == MODE_RUN_FOREGROUND) {
    if (supervisor_start(&s, err, sizeof err) < 0) {
      state_remove(dir);
      runtime_error("container did not start: %s", err);
      return 1;
    }
    struct state st;
    fill_state(&st, id, bundle, &spec, &s, created);
    if (state_write(dir, &st) < 0) runtime_error("%s/state.json: %s", dir, strerror(errno));
    write_pid_file(pid_file, s.init);
    int code = supervisor_run(&s);
    /* As `runc run`: a container run in the foreground is deleted when it ends. */
    cgroup_remove(&s.cgroup);
    state_remove(dir);
    return code;
  }

  s.exit_path = xasprintf("%s/exit", dir);
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) {
    runtime_error("pipe: %s", strerror(errno));
    state_remove(dir);
    return 1;
  }
  pid_t supervisor = fork();
  if (supervisor < 0) {
    runtime_error("fork: %s", strerror(errno));
    state_remove(dir);
    return 1;
  }
  if (supervisor == 0) {
    close(report[0]);
    _exit(supervise_detached(&s, report[1], id, bundle, &spec, dir, created));
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
  state_remove(dir);
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
  if (argc > 0 && is_option(argv[0])) return unknown_option("start", argv[0]);
  const char *id = container_id("start", argc, argv, 0, 0);
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
  if (argc > 0 && is_option(argv[0])) return unknown_option("state", argv[0]);
  const char *id = container_id("state", argc, argv, 0, 0);
  char *dir;
  struct state st;
  if (!id || load_state(g, id, &dir, &st) < 0) return 1;
  enum status status = state_status(dir, &st);
  struct buf b = {0};
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
  if (write_all(1, b.data, b.len) < 0) return 1;
  return 0;
}

int cmd_kill(const struct globals *g, int argc, char **argv) {
  if (argc > 0 && is_option(argv[0]) && strcmp(argv[0], "--")) return unknown_option("kill", argv[0]);
  int i = argc > 0 && !strcmp(argv[0], "--") ? 1 : 0;
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

int cmd_delete(const struct globals *g, int argc, char **argv) {
  bool force = false;
  int i = 0;
  for (; i < argc && is_option(argv[i]); i++) {
    if (option_flag(argv[i], "force", 'f')) force = true;
    else return unknown_option("delete", argv[i]);
  }
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
    /* A create that died half-way leaves a directory without state.json: only --force clears it. */
    if (!force) {
      runtime_error("%s", errno == ENOENT ? "container is still being created (use --force to remove it)" : err);
      return 1;
    }
    if (state_remove(dir) < 0) {
      runtime_error("remove %s: %s", dir, strerror(errno));
      return 1;
    }
    return 0;
  }
  enum status status = state_status(dir, &st);
  if (status == STATUS_RUNNING && !force) {
    runtime_error("cannot delete a running container (stop it first, or use --force)");
    return 1;
  }
  if (status != STATUS_STOPPED) kill(st.pid, SIGKILL);
  wait_supervisor(&st);
  struct cgroup cg;
  if (cgroup_open(st.cgroups_path, &cg, err, sizeof err) == 0 && cgroup_remove(&cg) < 0) {
    runtime_error("remove cgroup %s: %s", st.cgroups_path, strerror(errno));
    return 1;
  }
  if (state_remove(dir) < 0) {
    runtime_error("remove %s: %s", dir, strerror(errno));
    return 1;
  }
  return 0;
}

/* ---- exec ---- */

/* env with each --env KEY=value replacing its key or added at the end. */
static char **merge_env(char **env, size_t nenv, char **extra, size_t nextra) {
  char **out = xcalloc(nenv + nextra + 1, sizeof *out);
  size_t n = 0;
  for (size_t i = 0; i < nenv; i++) out[n++] = env[i];
  for (size_t k = 0; k < nextra; k++) {
    size_t keylen = strcspn(extra[k], "=");
    size_t j = 0;
    while (j < n && !(strncmp(out[j], extra[k], keylen) == 0 && out[j][keylen] == '=')) j++;
    out[j] = extra[k];
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

int cmd_exec(const struct globals *g, int argc, char **argv) {
  const char *cwd = NULL, *user = NULL, *value;
  char **extra_env = xcalloc((size_t)argc + 1, sizeof *extra_env);
  size_t nextra = 0;
  bool detach = false;
  int i = 0;
  for (; i < argc && is_option(argv[i]); i++) {
    if (!strcmp(argv[i], "--")) {
      i++;
      break;
    }
    int r;
    if ((r = option_value(argc, argv, &i, "cwd", 0, &cwd)) != 0 ||
        (r = option_value(argc, argv, &i, "user", 'u', &user)) != 0) {
      if (r < 0) return 1;
    } else if ((r = option_value(argc, argv, &i, "env", 'e', &value)) != 0) {
      if (r < 0) return 1;
      if (!strchr(value, '=') || value[0] == '=') {
        runtime_error("exec: --env wants KEY=value, not \"%s\"", value);
        return 1;
      }
      extra_env[nextra++] = (char *)value;
    } else if (option_flag(argv[i], "detach", 'd')) {
      detach = true;
    } else {
      return unknown_option("exec", argv[i]);
    }
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
      .env = merge_env(spec.env, spec.nenv, extra_env, nextra),
      .cwd = cwd ? cwd : spec.cwd,
      .uid = spec.uid,
      .gid = spec.gid,
      .additional_gids = spec.additional_gids,
      .nadditional_gids = spec.nadditional_gids,
      .caps = spec.has_caps ? &spec.caps : NULL,
      .no_new_privileges = spec.no_new_privileges,
      .seccomp = spec.has_seccomp ? &spec.seccomp_filter : NULL,
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
  pid_t pid = exec_start(&req, err, sizeof err);
  if (pid < 0) {
    runtime_error("exec in \"%s\": %s", id, err);
    return 1;
  }
  if (detach) return 0;
  int status_code;
  while (waitpid(pid, &status_code, 0) < 0)
    if (errno != EINTR) {
      runtime_error("wait: %s", strerror(errno));
      return 1;
    }
  if (WIFEXITED(status_code)) return WEXITSTATUS(status_code);
  return 128 + WTERMSIG(status_code);
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
  for (int i = 0; i < argc; i++) {
    int r = is_option(argv[i]) ? option_value(argc, argv, &i, "bundle", 'b', &bundle) : 0;
    if (r < 0) return 1;
    if (r == 0) return is_option(argv[i]) ? unknown_option("spec", argv[i]) : (runtime_error("spec: unexpected argument %s", argv[i]), 1);
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
