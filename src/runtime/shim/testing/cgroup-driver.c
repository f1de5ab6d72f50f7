/*
 * Drives cgroup.c for cgroup.test.ts. It includes cgroup.c itself so that --mountinfo and
 * --self-cgroup can point the module at a fake description of the host (a fake cgroupfs tree in a
 * temp dir, or only the cgroup2 line of the real one) in place of /proc/self/mountinfo and
 * /proc/self/cgroup.
 *
 * Usage: cgroup-driver [--mountinfo FILE] [--self-cgroup FILE] COMMAND ...
 *   create PATH [memory=N] [swap=N] [quota=N] [period=N] [shares=N] [pids=N]
 *                       prints "v1" or "v2", "dir D" for each directory, "memory D"
 *   open PATH           the same for an existing cgroup
 *   run PATH CMD...     runs CMD joined to PATH's cgroup (joined by this process before CMD execs),
 *                       prints "exit N" or "signal N" and then "oom_kills N"
 *   remove PATH         removes PATH's cgroup
 *   remove-busy PATH CMD...   starts CMD in the cgroup, waits for its first line of output (printed
 *                       as "started LINE"), removes the cgroup, prints how CMD ended
 *   alloc               touches memory 1 MiB at a time until something stops it
 *   fork N              forks up to N children that wait; prints "forked K" and the first error
 * Errors go to stderr with exit status 1.
 */
#include "../cgroup.c"

#include <sys/mman.h>
#include <sys/wait.h>

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void print_cgroup(const struct cgroup *cg) {
  printf("%s\n", cg->v2 ? "v2" : "v1");
  for (size_t i = 0; i < cg->ndirs; i++) printf("dir %s\n", cg->dirs[i]);
  if (cg->memory_dir) printf("memory %s\n", cg->memory_dir);
}

static void open_or_die(const char *path, struct cgroup *cg) {
  char err[512];
  if (cgroup_open(path, cg, err, sizeof err) < 0) die("%s", err);
}

static int64_t parse_limit(const char *arg, const char *key) {
  char *end;
  long long n = strtoll(arg + strlen(key) + 1, &end, 10);
  if (*end) die("bad %s", arg);
  return n;
}

static void create(const char *path, char **opts) {
  struct spec_resources res = {.memory_limit = -1, .memory_swap = -1, .cpu_quota = -1, .pids_limit = -1};
  for (; *opts; opts++) {
    char *eq = strchr(*opts, '=');
    if (!eq) die("bad option %s", *opts);
    size_t klen = (size_t)(eq - *opts);
    if (!strncmp(*opts, "memory", klen)) res.memory_limit = parse_limit(*opts, "memory");
    else if (!strncmp(*opts, "swap", klen)) res.memory_swap = parse_limit(*opts, "swap");
    else if (!strncmp(*opts, "quota", klen)) res.cpu_quota = parse_limit(*opts, "quota");
    else if (!strncmp(*opts, "period", klen)) res.cpu_period = (uint64_t)parse_limit(*opts, "period");
    else if (!strncmp(*opts, "shares", klen)) res.cpu_shares = (uint64_t)parse_limit(*opts, "shares");
    else if (!strncmp(*opts, "pids", klen)) res.pids_limit = parse_limit(*opts, "pids");
    else die("unknown option %s", *opts);
  }
  struct cgroup cg;
  char err[512];
  if (cgroup_create(path, &res, &cg, err, sizeof err) < 0) die("%s", err);
  print_cgroup(&cg);
}

/*
 * Forks argv into cg: the child waits on a pipe until this process has joined it, so that the
 * command is in the cgroup from its first instruction. out_fd, when >= 0, becomes its stdout.
 */
static pid_t start_in(const struct cgroup *cg, char **argv, int out_fd) {
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    char byte;
    close(go[1]);
    if (read(go[0], &byte, 1) != 1) _exit(127);
    if (out_fd >= 0 && dup2(out_fd, 1) < 0) _exit(127);
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(go[0]);
  if (cgroup_join(cg, pid) < 0) die("join: %s", strerror(errno));
  if (write(go[1], "x", 1) != 1) die("release the child: %s", strerror(errno));
  close(go[1]);
  return pid;
}

static void print_status(int status) {
  if (WIFSIGNALED(status)) printf("signal %d\n", WTERMSIG(status));
  else printf("exit %d\n", WEXITSTATUS(status));
}

static void run(const char *path, char **argv) {
  struct cgroup cg;
  open_or_die(path, &cg);
  pid_t pid = start_in(&cg, argv, -1);
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid: %s", strerror(errno));
  print_status(status);
  printf("oom_kills %ld\n", cgroup_oom_kills(&cg));
}

static void remove_busy(const char *path, char **argv) {
  struct cgroup cg;
  open_or_die(path, &cg);
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  pid_t pid = start_in(&cg, argv, out[1]);
  close(out[1]);
  char line[256];
  ssize_t n = read(out[0], line, sizeof line - 1);
  if (n <= 0) die("the command printed nothing");
  line[n] = '\0';
  line[strcspn(line, "\n")] = '\0';
  printf("started %s\n", line);
  if (cgroup_remove(&cg) < 0) die("remove: %s", strerror(errno));
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid: %s", strerror(errno));
  print_status(status);
}

static void alloc_forever(void) {
  for (;;) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap: %s", strerror(errno));
    memset(p, 1, 1 << 20);
  }
}

static void fork_many(long n) {
  int hold[2];
  if (pipe(hold) < 0) die("pipe: %s", strerror(errno));
  long forked = 0;
  const char *failure = "none";
  for (; forked < n; forked++) {
    pid_t pid = fork();
    if (pid < 0) {
      failure = strerror(errno);
      break;
    }
    if (pid == 0) {
      /* Waits until the parent closes its end, so that all children exist at once. */
      char byte;
      close(hold[1]);
      _exit(read(hold[0], &byte, 1) == 0 ? 0 : 1);
    }
  }
  close(hold[1]);
  while (wait(NULL) > 0) {}
  printf("forked %ld\nerror %s\n", forked, failure);
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
    if (!strcmp(argv[i], "--mountinfo")) mountinfo_file = argv[i + 1];
    else if (!strcmp(argv[i], "--self-cgroup")) self_cgroup_file = argv[i + 1];
    else die("unknown flag %s", argv[i]);
  }
  if (i >= argc) die("usage: cgroup-driver [--mountinfo F] [--self-cgroup F] COMMAND ...");
  const char *cmd = argv[i];
  char **rest = argv + i + 1;
  int nrest = argc - i - 1;
  if (!strcmp(cmd, "alloc")) alloc_forever();
  if (!strcmp(cmd, "fork") && nrest == 1) fork_many(strtol(rest[0], NULL, 10));
  else if (!strcmp(cmd, "create") && nrest >= 1) create(rest[0], rest + 1);
  else if (!strcmp(cmd, "open") && nrest == 1) {
    struct cgroup cg;
    open_or_die(rest[0], &cg);
    print_cgroup(&cg);
  } else if (!strcmp(cmd, "run") && nrest >= 2) run(rest[0], rest + 1);
  else if (!strcmp(cmd, "remove") && nrest == 1) {
    struct cgroup cg;
    open_or_die(rest[0], &cg);
    if (cgroup_remove(&cg) < 0) die("remove: %s", strerror(errno));
  } else if (!strcmp(cmd, "remove-busy") && nrest >= 2) remove_busy(rest[0], rest + 1);
  else die("bad command line");
  return 0;
}
