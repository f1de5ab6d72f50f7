/*
 * The container's init, from clone(2) to exec (see container.h). The order follows what each step
 * needs: namespaces joined before anything is mounted; every mount made inside the new root while
 * the host's /proc is still there to reach it; pivot_root; then limits, identity, capabilities and
 * seccomp, whose order decides what the remaining steps may still do.
 *
 * Paths inside the root are opened with openat2(RESOLVE_IN_ROOT), and mounts made on
 * /proc/self/fd/N of what was opened, so a symlink in the image (/proc -> /etc, say) cannot aim a
 * mount outside the container's root.
 */
#define _GNU_SOURCE
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "caps.h"
#include "seccomp.h"
#include "util.h"

static const struct init_args *args;
static const struct spec *spec;
/* Once 'R' is sent the supervisor no longer listens; a later failure goes to the program's stderr. */
static bool reported_ready;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  msg[0] = 'E';
  int n = vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 1 : (size_t)n + 1 < sizeof msg ? (size_t)n + 1 : sizeof msg - 1;
  if (!reported_ready) {
    write_all(args->report_fd, msg, len);
  } else {
    write_all(2, "shoal-runtime: ", 15);
    write_all(2, msg + 1, len - 1);
    write_all(2, "\n", 1);
  }
  _exit(127);
}

int container_clone_flags(const struct spec *s) {
  int flags = 0;
  for (size_t i = 0; i < s->nnamespaces; i++)
    /* A new cgroup namespace is made by the init itself, once it is in its cgroup (see below). */
    if (!s->namespaces[i].path && s->namespaces[i].type != CLONE_NEWCGROUP) flags |= s->namespaces[i].type;
  return flags;
}

/* ---- namespaces ---- */

static void join_namespaces(void) {
  for (size_t i = 0; i < spec->nnamespaces; i++) {
    const struct spec_namespace *ns = &spec->namespaces[i];
    /* A PID namespace only applies to children: the supervisor joined it before cloning us. */
    if (!ns->path || ns->type == CLONE_NEWPID) continue;
    int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open namespace %s: %s", ns->path, strerror(errno));
    if (setns(fd, ns->type) < 0) fail("join namespace %s: %s", ns->path, strerror(errno));
    close(fd);
  }
  for (size_t i = 0; i < spec->nnamespaces; i++)
    if (spec->namespaces[i].type == CLONE_NEWCGROUP && !spec->namespaces[i].path && unshare(CLONE_NEWCGROUP) < 0)
      fail("new cgroup namespace: %s", strerror(errno));
}

/*
 * A new network namespace starts with its loopback down; bring it up, as runc does, so that a
 * container without any other network can still reach its own services on 127.0.0.1.
 */
static void loopback_up(void) {
  bool new_netns = false;
  for (size_t i = 0; i < spec->nnamespaces; i++)
    if (spec->namespaces[i].type == CLONE_NEWNET && !spec->namespaces[i].path) new_netns = true;
  if (!new_netns) return;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("loopback: socket: %s", strerror(errno));
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) fail("loopback: get flags: %s", strerror(errno));
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) fail("loopback: up: %s", strerror(errno));
  close(fd);
}

/*
 * The working directory is made when the image lacks it, as Docker does for a WORKDIR: after
 * pivot_root, so "/" is the container's and a symlink on the way cannot lead out, and while still
 * root. A read-only root leaves it to chdir to say what is wrong.
 */
static void make_cwd(void) {
  char path[PATH_MAX];
  if (strlen(spec->cwd) >= sizeof path) fail("cwd %s: %s", spec->cwd, strerror(ENAMETOOLONG));
  strcpy(path, spec->cwd);
  for (char *slash = path + 1;; slash++) {
    bool end = *slash == '\0';
    if (!end && *slash != '/') continue;
    *slash = '\0';
    if (mkdir(path, 0755) < 0 && errno != EEXIST) return;
    if (end) return;
    *slash = '/';
  }
}

/* ---- paths inside the root ---- */

static int root_fd = -1;

static int open_in_root(const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
  for (;;) {
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return fd;
  }
}

/*
 * Opens path inside the root (O_PATH), first creating what is missing: directories, and when
 * `file` is set an empty file as the last component (a bind mount of a file needs a file).
 */
static int make_in_root(const char *path, bool file) {
  int fd = open_in_root(path, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  char partial[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof partial) return errno = ENAMETOOLONG, -1;
  for (size_t end = 1; end <= len; end++) {
    if (end < len && path[end] != '/') continue;
    memcpy(partial, path, end);
    partial[end] = '\0';
    fd = open_in_root(partial, O_PATH);
    if (fd >= 0) {
      if (end < len) close(fd);
      continue;
    }
    if (errno != ENOENT) return -1;
    char *slash = strrchr(partial, '/');
    *slash = '\0';
    int parent = open_in_root(partial[0] ? partial : "/", O_PATH | O_DIRECTORY);
    if (parent < 0) return -1;
    const char *name = slash + 1;
    int made;
    if (end == len && file) {
      made = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (made >= 0) close(made);
    } else {
      made = mkdirat(parent, name, 0755);
    }
    close(parent);
    if (made < 0 && errno != EEXIST) return -1;
    *slash = '/';
    fd = open_in_root(partial, O_PATH);
    if (fd < 0) return -1;
    if (end < len) close(fd);
  }
  return fd;
}

static const char *fd_path(int fd) {
  static char path[2][64];
  static int which;
  which ^= 1;
  snprintf(path[which], sizeof path[which], "/proc/self/fd/%d", fd);
  return path[which];
}

/* The per-mount flags a remount has to keep (the kernel refuses to drop some of them silently). */
static unsigned long kept_flags(int fd) {
  struct statvfs st;
  if (fstatvfs(fd, &st) < 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

/* Remounts what is now mounted at path (inside the root) with flags, keeping the others. */
static void remount_in_root(const char *path, unsigned long flags, const char *what) {
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) fail("%s %s: %s", what, path, strerror(errno));
  if (mount(NULL, fd_path(fd), NULL, MS_BIND | MS_REMOUNT | kept_flags(fd) | flags, NULL) < 0)
    fail("%s %s: %s", what, path, strerror(errno));
  close(fd);
}

/* ---- mounts ---- */

#define BIND_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

static void mount_bind(const struct spec_mount *m) {
  struct stat st;
  if (stat(m->source, &st) < 0) fail("mount %s: source %s: %s", m->destination, m->source, strerror(errno));
  int fd = make_in_root(m->destination, !S_ISDIR(st.st_mode));
  if (fd < 0) fail("mount %s: %s", m->destination, strerror(errno));
  if (mount(m->source, fd_path(fd), NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
    fail("mount %s on %s: %s", m->source, m->destination, strerror(errno));
  close(fd);
  /* A bind mount takes its flags only from a remount. */
  if (m->flags & BIND_FLAGS) remount_in_root(m->destination, m->flags & BIND_FLAGS, "remount");
}

/* sysfs can only be mounted by an owner of the network namespace; without one, bind the host's. */
static int mount_sysfs_fallback(const struct spec_mount *m, int fd) {
  if (mount("/sys", fd_path(fd), NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
  remount_in_root(m->destination, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "remount");
  return 0;
}

/*
 * cgroup mounts: on v2 the container's own cgroup namespace decides what cgroup2 shows. On v1 (one
 * hierarchy per controller) a tmpfs holds a bind of the container's directory in each hierarchy,
 * named as the hierarchy is under /sys/fs/cgroup, which is what runc shows a container.
 */
static void mount_cgroup(const struct spec_mount *m, int fd) {
  struct statfs host;
  unsigned long flags = m->flags & ~MS_BIND;
  if (statfs("/sys/fs/cgroup", &host) == 0 && host.f_type == CGROUP2_SUPER_MAGIC) {
    if (mount("cgroup2", fd_path(fd), "cgroup2", flags, NULL) < 0) fail("mount %s: %s", m->destination, strerror(errno));
    return;
  }
  const struct cgroup *cg = args->cgroup;
  if (!cg) fail("mount %s: the container has no cgroup", m->destination);
  if (mount("tmpfs", fd_path(fd), "tmpfs", (flags & ~MS_RDONLY), "mode=755") < 0)
    fail("mount %s: %s", m->destination, strerror(errno));
  static const char prefix[] = "/sys/fs/cgroup/";
  for (size_t i = 0; i < cg->ndirs; i++) {
    if (strncmp(cg->dirs[i], prefix, sizeof prefix - 1)) continue;
    const char *name = cg->dirs[i] + sizeof prefix - 1;
    char hierarchy[PATH_MAX];
    snprintf(hierarchy, sizeof hierarchy, "%s/%.*s", m->destination, (int)strcspn(name, "/"), name);
    int dir = make_in_root(hierarchy, false);
    if (dir < 0) fail("mount %s: %s", hierarchy, strerror(errno));
    if (mount(cg->dirs[i], fd_path(dir), NULL, MS_BIND | MS_REC, NULL) < 0)
      fail("mount %s: %s", hierarchy, strerror(errno));
    close(dir);
    remount_in_root(hierarchy, flags & BIND_FLAGS, "remount");
  }
  if (flags & MS_RDONLY) remount_in_root(m->destination, flags & BIND_FLAGS, "remount");
}

static void mount_one(const struct spec_mount *m) {
  if (m->flags & MS_BIND) {
    mount_bind(m);
  } else {
    int fd = make_in_root(m->destination, false);
    if (fd < 0) fail("mount %s: %s", m->destination, strerror(errno));
    if (!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2")) {
      mount_cgroup(m, fd);
    } else if (mount(m->source, fd_path(fd), m->type, m->flags, m->data) < 0) {
      if (!(errno == EPERM && !strcmp(m->type, "sysfs") && mount_sysfs_fallback(m, fd) == 0))
        fail("mount %s (%s): %s", m->destination, m->type, strerror(errno));
    }
    close(fd);
  }
  if (m->propagation) {
    int fd = open_in_root(m->destination, O_PATH);
    if (fd < 0 || mount(NULL, fd_path(fd), NULL, m->propagation, NULL) < 0)
      fail("propagation of %s: %s", m->destination, strerror(errno));
    close(fd);
  }
}

static bool mounts_at(const char *destination, const char *type) {
  for (size_t i = 0; i < spec->nmounts; i++)
    if (!strcmp(spec->mounts[i].destination, destination) && !(spec->mounts[i].flags & MS_BIND) &&
        (!type || !strcmp(spec->mounts[i].type, type)))
      return true;
  return false;
}

static const struct {
  const char *name;
  unsigned major, minor;
} devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/*
 * A /dev the spec mounts (a tmpfs) gets the harmless character devices and the usual links, as
 * runc makes them; the host's disks stay unreachable.
 */
static void populate_dev(void) {
  int dev = open_in_root("/dev", O_PATH | O_DIRECTORY);
  if (dev < 0) fail("/dev: %s", strerror(errno));
  mode_t old = umask(0);
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    const char *name = devices[i].name;
    if (mknodat(dev, name, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) == 0) continue;
    /* mknod is refused inside a user namespace; the host's node, bound on a file, works the same. */
    if (errno != EPERM) fail("/dev/%s: %s", name, strerror(errno));
    int fd = openat(dev, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) fail("/dev/%s: %s", name, strerror(errno));
    close(fd);
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", name);
    int target = openat(dev, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (target < 0 || mount(host, fd_path(target), NULL, MS_BIND, NULL) < 0) fail("/dev/%s: %s", name, strerror(errno));
    close(target);
  }
  umask(old);
  static const char *const links[][2] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST) fail("/dev/%s: %s", links[i][1], strerror(errno));
  if (mounts_at("/dev/pts", "devpts") && symlinkat("pts/ptmx", dev, "ptmx") < 0 && errno != EEXIST)
    fail("/dev/ptmx: %s", strerror(errno));
  close(dev);
}

static void readonly_paths(void) {
  for (size_t i = 0; i < spec->nreadonly_paths; i++) {
    const char *path = spec->readonly_paths[i];
    int fd = open_in_root(path, O_PATH);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0 || mount(fd_path(fd), fd_path(fd), NULL, MS_BIND | MS_REC, NULL) < 0)
      fail("read-only path %s: %s", path, strerror(errno));
    close(fd);
    remount_in_root(path, MS_RDONLY | MS_REC, "read-only path");
  }
}

/* Files are covered by /dev/null, directories by an empty read-only tmpfs; missing paths skipped. */
static void masked_paths(void) {
  for (size_t i = 0; i < spec->nmasked_paths; i++) {
    const char *path = spec->masked_paths[i];
    int fd = open_in_root(path, O_PATH);
    if (fd < 0 && errno == ENOENT) continue;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) fail("masked path %s: %s", path, strerror(errno));
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", fd_path(fd), "tmpfs", MS_RDONLY, "size=0")
                                : mount("/dev/null", fd_path(fd), NULL, MS_BIND, NULL);
    if (r < 0) fail("masked path %s: %s", path, strerror(errno));
    close(fd);
  }
}

static void build_root(void) {
  /* Private, so that nothing we mount leaks back to the host and host mounts do not appear. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("make / private: %s", strerror(errno));
  if (spec->overlay_lower) {
    /* Mounted here, in the container's mount namespace, it disappears with the container. */
    char data[4096];
    int n = spec->overlay_upper
                ? snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", spec->overlay_lower,
                           spec->overlay_upper, spec->overlay_work)
                : snprintf(data, sizeof data, "lowerdir=%s", spec->overlay_lower);
    if (n < 0 || (size_t)n >= sizeof data) fail("overlay root: the layer list is longer than a page");
    if (mount("overlay", spec->root_path, "overlay", 0, data) < 0) fail("overlay root: %s", strerror(errno));
  } else if (mount(spec->root_path, spec->root_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    /* pivot_root needs the new root to be a mount point. */
    fail("bind %s: %s", spec->root_path, strerror(errno));
  }
  root_fd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail("%s: %s", spec->root_path, strerror(errno));
  for (size_t i = 0; i < spec->nmounts; i++) mount_one(&spec->mounts[i]);
  if (mounts_at("/dev", NULL)) populate_dev();
  readonly_paths();
  masked_paths();
}

static void enter_root(void) {
  if (fchdir(root_fd) < 0) fail("chdir to the root: %s", strerror(errno));
  /* With new and old root both ".", the old root ends up stacked under the new one at "/";
     detaching it leaves nothing of the host reachable and needs no directory in the rootfs. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root: %s", strerror(errno));
  if (umount2(".", MNT_DETACH) < 0) fail("detach the old root: %s", strerror(errno));
  if (chdir("/") < 0) fail("chdir /: %s", strerror(errno));
  close(root_fd);
  if (spec->root_readonly) {
    struct statvfs st;
    unsigned long kept = 0;
    if (statvfs("/", &st) == 0) {
      if (st.f_flag & ST_NOSUID) kept |= MS_NOSUID;
      if (st.f_flag & ST_NODEV) kept |= MS_NODEV;
      if (st.f_flag & ST_NOEXEC) kept |= MS_NOEXEC;
    }
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, NULL) < 0)
      fail("read-only root: %s", strerror(errno));
  }
}

/* ---- the process ---- */

static const char *env_value(const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < spec->nenv; i++)
    if (!strncmp(spec->env[i], key, n) && spec->env[i][n] == '=') return spec->env[i] + n + 1;
  return NULL;
}

/* args[0] on the container's PATH, found before `create` returns so a typo fails there. */
static const char *find_program(void) {
  const char *name = spec->args[0];
  if (strchr(name, '/')) {
    if (access(name, X_OK) < 0) fail("exec %s: %s", name, strerror(errno));
    return name;
  }
  const char *path = env_value("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int why = ENOENT;
  for (const char *dir = path;; dir++) {
    size_t len = strcspn(dir, ":");
    char *candidate = xasprintf("%.*s/%s", (int)len, len ? dir : ".", name);
    struct stat st;
    if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate, X_OK) == 0) return candidate;
      why = EACCES;
    }
    free(candidate);
    dir += len;
    if (!*dir) break;
  }
  fail("exec %s: %s on the container's PATH", name, why == EACCES ? "not executable" : "not found");
}

static void set_limits(void) {
  const struct spec_rlimit *refused;
  if (rlimits_apply(spec->rlimits, spec->nrlimits, &refused) < 0)
    fail("rlimit %d: %s", refused->resource, strerror(errno));
  /* The host's /proc, before pivot_root: the container may have none. */
  if (spec->has_oom_score_adj && oom_score_adj_set(spec->oom_score_adj) < 0) fail("oom_score_adj: %s", strerror(errno));
}

static void set_stdio(void) {
  if (args->out_fd < 0) return;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) fail("/dev/null: %s", strerror(errno));
  if (dup2(null_fd, 0) < 0 || dup2(args->out_fd, 1) < 0 || dup2(args->err_fd, 2) < 0) fail("dup2: %s", strerror(errno));
  close(null_fd);
  close(args->out_fd);
  close(args->err_fd);
}

/*
 * Groups, uid and gid, then capabilities. Without no_new_privs, installing a seccomp filter needs
 * CAP_SYS_ADMIN, which setuid to a non-root user takes away: so it goes in before the uid changes
 * (as runc does) and the remaining steps must pass it. With no_new_privs it waits until just
 * before exec (install_late).
 */
static bool install_late;

static void take_identity(void) {
  if (setgroups(spec->nadditional_gids, spec->additional_gids) < 0) fail("setgroups: %s", strerror(errno));
  if (caps_prepare(&spec->caps) < 0) fail("capabilities: %s", strerror(errno));
  if (setresgid(spec->gid, spec->gid, spec->gid) < 0) fail("setgid %u: %s", (unsigned)spec->gid, strerror(errno));
  install_late = spec->has_seccomp && spec->no_new_privileges;
  if (spec->has_seccomp && !install_late && seccomp_install(&spec->seccomp_filter) < 0)
    fail("seccomp: %s", strerror(errno));
  if (setresuid(spec->uid, spec->uid, spec->uid) < 0) fail("setuid %u: %s", (unsigned)spec->uid, strerror(errno));
  if (caps_apply(&spec->caps) < 0) fail("capabilities: %s", strerror(errno));
  if (spec->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs: %s", strerror(errno));
}

/* The exec fifo is opened read-write, which does not block; `start` writes one byte into it. */
static int open_fifo(void) {
  if (!args->fifo_path) return -1;
  int fd = open(args->fifo_path, O_RDWR | O_CLOEXEC);
  if (fd < 0) fail("%s: %s", args->fifo_path, strerror(errno));
  return fd;
}

static void wait_for_start(int fifo) {
  if (fifo < 0) return;
  char byte;
  ssize_t n;
  do n = read(fifo, &byte, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) fail("waiting for start: %s", n < 0 ? strerror(errno) : "fifo closed");
  close(fifo);
}

/* Closes every descriptor from 3 up but the init's own pipes: the supervisor's log file, its
   signalfd and its pipe to the command that started it must not be held by the container. */
static void close_others(void) {
  int keep[] = {args->sync_fd, args->report_fd, args->out_fd, args->err_fd};
  size_t n = sizeof keep / sizeof keep[0];
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned from = 3;
  for (size_t i = 0; i < n; i++) {
    if (keep[i] < (int)from) continue;
    if ((unsigned)keep[i] > from) close_range(from, (unsigned)keep[i] - 1, 0);
    from = (unsigned)keep[i] + 1;
  }
  close_range(from, ~0U, 0);
}

int container_main(void *arg) {
  args = arg;
  spec = args->spec;
  close_others();
  /* Until it execs, the init must not outlive a supervisor that died. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char go;
  ssize_t n;
  do n = read(args->sync_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127); /* The supervisor gave up on us; it has the reason. */
  close(args->sync_fd);

  umask(022);
  join_namespaces();
  loopback_up();
  build_root();
  set_limits();
  set_stdio();
  int fifo = open_fifo();
  enter_root();
  if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
    fail("sethostname: %s", strerror(errno));
  make_cwd();
  if (chdir(spec->cwd) < 0) fail("cwd %s: %s", spec->cwd, strerror(errno));
  const char *program = find_program();
  take_identity();

  if (write_all(args->report_fd, "R", 1) < 0) _exit(127);
  reported_ready = true;
  wait_for_start(fifo);
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  /* As under runc, the program starts with every signal at its default and none blocked, whatever
     the supervisor or the runtime's own starter ignored or blocked. */
  if (signals_reset() < 0) fail("reset signals: %s", strerror(errno));
  if (install_late && seccomp_install(&spec->seccomp_filter) < 0) fail("seccomp: %s", strerror(errno));
  execve(program, spec->args, spec->env);
  fail("exec %s: %s", program, strerror(errno));
}
