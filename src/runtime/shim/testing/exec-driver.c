/*
 * Test driver for exec.c (exec.test.ts builds it with exec.c, cgroup.c, caps.c and seccomp.c).
 *
 *   exec-driver container ROOTFS HOSTNAME CGROUP
 *     A minimal container to exec into: creates CGROUP (cgroup_create, no limits), clones an init
 *     into new mount, UTS, IPC, PID, network and cgroup namespaces inside it, pivots into ROOTFS
 *     with a /proc of its own and runs `sleep 600`. Prints the init's host pid once it runs, then
 *     waits for it and removes the cgroup: kill the init to end it.
 *
 *   exec-driver exec [--cgroup P] [--cwd D] [--env K=V]... [--user UID:GID] [--groups G,G...]
 *                    [--caps HEX] [--no-new-privs] [--deny-mkdir] [--nofile N] [--oom-score-adj N]
 *                    INIT_PID CMD [ARG...]
 *     Runs CMD in that container through exec_start and exits with its exit code (128+signal if
 *     killed). A failure to start prints "exec-driver: <reason>" and exits 125. --caps gives every
 *     set the mask (ambient too, so a non-root user keeps them); --deny-mkdir installs a filter
 *     that fails mkdir/mkdirat with EPERM; --nofile sets RLIMIT_NOFILE (soft and hard). Like a runtime that forwards signals, it blocks SIGUSR1
 *     and ignores SIGUSR2, and it leaves a descriptor open without close-on-exec: the command must
 *     inherit none of these.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cgroup.h"
#include "exec.h"

#define MAX_LIST 64

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("exec-driver: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(125);
}

/* ---- container ---- */

struct init_args {
  const char *rootfs, *hostname;
  int sync[2];   /* the parent writes one byte once the init is in the cgroup */
  int report[2]; /* close-on-exec: closes empty when sleep runs, or carries why the init failed */
};

static _Noreturn void init_fail(const struct init_args *a, const char *what) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  if (write(a->report[1], msg, (size_t)n) < 0) {
    /* The parent sees the exit. */
  }
  _exit(1);
}

static int init_main(void *arg) {
  const struct init_args *a = arg;
  close(a->sync[1]);
  close(a->report[0]);
  char go;
  if (read(a->sync[0], &go, 1) != 1) init_fail(a, "wait for the cgroup");
  /* Entered only now, so the namespace's root is the container's cgroup. */
  if (unshare(CLONE_NEWCGROUP) < 0) init_fail(a, "unshare cgroup");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) init_fail(a, "make / private");
  if (mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) init_fail(a, "bind rootfs");
  if (chdir(a->rootfs) < 0) init_fail(a, "chdir rootfs");
  if (mkdir("proc", 0555) < 0 && errno != EEXIST) init_fail(a, "mkdir proc");
  if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) init_fail(a, "mount proc");
  if (syscall(SYS_pivot_root, ".", ".") < 0) init_fail(a, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0) init_fail(a, "detach old root");
  if (chdir("/") < 0) init_fail(a, "chdir /");
  if (sethostname(a->hostname, strlen(a->hostname)) < 0) init_fail(a, "sethostname");
  execl("/bin/sleep", "sleep", "600", (char *)NULL);
  init_fail(a, "exec sleep");
}

static int run_container(const char *rootfs, const char *hostname, const char *cgroup_path) {
  char err[512];
  struct cgroup cg;
  const struct spec_resources no_limits = {.memory_limit = -1, .memory_swap = -1, .cpu_quota = -1, .pids_limit = -1};
  if (cgroup_create(cgroup_path, &no_limits, &cg, err, sizeof err) < 0) die("cgroup: %s", err);
  struct init_args a = {.rootfs = rootfs, .hostname = hostname};
  if (pipe(a.sync) < 0 || pipe2(a.report, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  size_t stack_size = 256 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) die("mmap: %s", strerror(errno));
  pid_t init = clone(init_main, stack + stack_size,
                     CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, &a);
  if (init < 0) die("clone: %s", strerror(errno));
  close(a.sync[0]);
  close(a.report[1]);
  int status;
  if (cgroup_join(&cg, init) < 0 || write(a.sync[1], "x", 1) != 1) {
    int e = errno;
    kill(init, SIGKILL);
    waitpid(init, &status, 0);
    cgroup_remove(&cg);
    die("join the cgroup: %s", strerror(e));
  }
  close(a.sync[1]);
  char msg[256];
  ssize_t n = read(a.report[0], msg, sizeof msg - 1);
  if (n > 0) {
    waitpid(init, &status, 0);
    cgroup_remove(&cg);
    die("container init: %.*s", (int)n, msg);
  }
  printf("%d\n", (int)init);
  fflush(stdout);
  while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  if (cgroup_remove(&cg) < 0) die("remove the cgroup: %s", strerror(errno));
  return 0;
}

/* ---- exec ---- */

/* mkdir and mkdirat fail with EPERM; anything else is allowed (other architectures are killed). */
static struct sock_filter deny_mkdir[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static unsigned long number(const char *what, const char *s, int base) {
  char *end;
  errno = 0;
  unsigned long n = strtoul(s, &end, base);
  if (errno || *s == '\0' || (*end != '\0' && *end != ':' && *end != ',')) die("bad %s: %s", what, s);
  return n;
}

static int run_exec(int argc, char **argv) {
  static char *env[MAX_LIST + 1];
  static gid_t groups[MAX_LIST];
  size_t nenv = 0, ngroups = 0;
  struct spec_capabilities caps = {0};
  struct sock_fprog filter = {.len = sizeof deny_mkdir / sizeof deny_mkdir[0], .filter = deny_mkdir};
  struct cgroup cg;
  struct spec_rlimit nofile = {.resource = RLIMIT_NOFILE};
  char err[512];
  struct exec_request req = {.cwd = "/", .env = env};

  int i = 2;
  for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
    const char *opt = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(opt, "--no-new-privs")) req.no_new_privileges = true;
    else if (!strcmp(opt, "--deny-mkdir")) req.seccomp = &filter;
    else if (!val) die("%s needs a value", opt);
    else if (i++, !strcmp(opt, "--cwd")) req.cwd = val;
    else if (!strcmp(opt, "--env")) {
      if (nenv == MAX_LIST) die("too many --env");
      env[nenv++] = (char *)val;
    } else if (!strcmp(opt, "--user")) {
      req.uid = (uid_t)number("uid", val, 10);
      const char *colon = strchr(val, ':');
      req.gid = colon ? (gid_t)number("gid", colon + 1, 10) : 0;
    } else if (!strcmp(opt, "--groups")) {
      for (const char *p = val; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (ngroups == MAX_LIST) die("too many groups");
        groups[ngroups++] = (gid_t)number("group", p, 10);
      }
    } else if (!strcmp(opt, "--caps")) {
      uint64_t mask = number("caps", val, 16);
      caps = (struct spec_capabilities){mask, mask, mask, mask, mask};
      req.caps = &caps;
    } else if (!strcmp(opt, "--cgroup")) {
      if (cgroup_open(val, &cg, err, sizeof err) < 0) die("cgroup: %s", err);
      req.cgroup = &cg;
    } else if (!strcmp(opt, "--nofile")) {
      nofile.soft = nofile.hard = number("nofile", val, 10);
      req.rlimits = &nofile;
      req.nrlimits = 1;
    } else if (!strcmp(opt, "--oom-score-adj")) {
      char *end;
      req.oom_score_adj = (int)strtol(val, &end, 10);
      if (*end) die("bad oom_score_adj: %s", val);
      req.has_oom_score_adj = true;
    } else die("unknown option %s", opt);
  }
  if (argc - i < 2) die("usage: exec-driver exec [options] INIT_PID CMD [ARG...]");
  req.init_pid = (pid_t)number("pid", argv[i], 10);
  req.args = argv + i + 1;
  req.additional_gids = groups;
  req.nadditional_gids = ngroups;

  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  signal(SIGUSR2, SIG_IGN);
  if (open("/dev/null", O_RDONLY) < 0) die("open /dev/null: %s", strerror(errno));

  pid_t pid = exec_start(&req, err, sizeof err);
  if (pid < 0) die("%s", err);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid %d: %s", (int)pid, strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "container")) return run_container(argv[2], argv[3], argv[4]);
  if (argc >= 2 && !strcmp(argv[1], "exec")) return run_exec(argc, argv);
  die("usage: exec-driver container ROOTFS HOSTNAME CGROUP | exec [options] INIT_PID CMD [ARG...]");
}
