#define _GNU_SOURCE
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

const char *status_name(enum status status) {
  static const char *const names[] = {"creating", "created", "running", "stopped"};
  return names[status];
}

bool state_valid_id(const char *id) {
  size_t len = strlen(id);
  if (len == 0 || len > 1024 || id[0] == '.' || id[0] == '-') return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-' || *p == '.'))
      return false;
  return true;
}

int state_create(const char *root, const char *id, const char *bundle, const char *cgroups_path) {
  char *dir = xasprintf("%s/%s", root, id), *temp = xasprintf("%s/.%s.%d", root, id, (int)getpid());
  char *path = xasprintf("%s/creating", temp);
  struct buf b = {0};
  buf_puts(&b, "{\"bundle\":");
  buf_json_string(&b, bundle, strlen(bundle));
  buf_puts(&b, ",\"cgroupsPath\":");
  buf_json_string(&b, cgroups_path, strlen(cgroups_path));
  buf_puts(&b, "}\n");
  int fd = -1, saved = 0;
  /* One left by a create that died with this pid is nobody's now. */
  state_remove(temp);
  if (mkdir(temp, 0700) < 0) {
    saved = errno;
  } else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 || write_all(fd, b.data, b.len) < 0 ||
             flock(fd, LOCK_EX) < 0 || renameat2(AT_FDCWD, temp, AT_FDCWD, dir, RENAME_NOREPLACE) < 0) {
    /* EEXIST from the rename: another container has the id (RENAME_NOREPLACE never replaces,
       not even an empty directory as a plain rename would). */
    saved = errno;
    if (fd >= 0) close(fd);
    fd = -1;
    state_remove(temp);
  }
  free(dir);
  free(temp);
  free(path);
  free(b.data);
  return fd < 0 ? (errno = saved, -1) : fd;
}

void state_created(const char *dir, int lock_fd) {
  char *path = xasprintf("%s/creating", dir);
  unlink(path);
  free(path);
  close(lock_fd);
}

int state_write(const char *dir, const struct state *st) {
  struct buf b = {0};
  buf_puts(&b, "{\"id\":");
  buf_json_string(&b, st->id, strlen(st->id));
  buf_puts(&b, ",\"bundle\":");
  buf_json_string(&b, st->bundle, strlen(st->bundle));
  buf_printf(&b, ",\"pid\":%d,\"pidStartTime\":%llu,\"supervisorPid\":%d,\"supervisorStartTime\":%llu,\"created\":",
             (int)st->pid, (unsigned long long)st->pid_start_time, (int)st->supervisor_pid,
             (unsigned long long)st->supervisor_start_time);
  buf_json_string(&b, st->created, strlen(st->created));
  buf_puts(&b, ",\"cgroupsPath\":");
  buf_json_string(&b, st->cgroups_path, strlen(st->cgroups_path));
  buf_puts(&b, ",\"annotations\":");
  buf_puts(&b, st->annotations_json);
  buf_puts(&b, "}\n");
  char *path = xasprintf("%s/state.json", dir);
  int r = write_file_atomic(path, b.data, b.len, 0644);
  free(path);
  free(b.data);
  return r;
}

static int field_string(const struct json *j, const char *key, char **out) {
  struct json *v = json_get(j, key);
  if (!v || v->type != JSON_STRING) return -1;
  *out = v->text;
  return 0;
}

static int field_number(const struct json *j, const char *key, uint64_t *out) {
  return json_uint64(json_get(j, key), out);
}

/*
 * Whether a create holds dir (its `creating` file locked), filling st->bundle and st->cgroups_path
 * from the file when it is there. The creating processes hold an exclusive lock; a shared one is
 * to be had only once they are all gone.
 */
static bool create_in_progress(const char *dir, struct state *st) {
  char *path = xasprintf("%s/creating", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  char text[8192];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  char why[128];
  struct json *j = n > 0 ? json_parse(text, (size_t)n, why, sizeof why) : NULL;
  if (j) {
    field_string(j, "bundle", &st->bundle);
    field_string(j, "cgroupsPath", &st->cgroups_path);
  }
  return held;
}

int state_read(const char *dir, struct state *st, char *err, size_t errlen) {
  memset(st, 0, sizeof *st);
  char *path = xasprintf("%s/state.json", dir);
  char *text;
  size_t len;
  int r = read_file(path, &text, &len);
  if (r < 0 && errno == ENOENT) {
    if (create_in_progress(dir, st)) {
      snprintf(err, errlen, "%s: the container is being created", dir);
      free(path);
      return errno = EINPROGRESS, -1;
    }
    /* No create running: it died half-way, or it has finished since state.json was looked for. */
    r = read_file(path, &text, &len);
  }
  if (r < 0) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    free(path);
    return errno = e, -1;
  }
  char why[256];
  struct json *j = json_parse(text, len, why, sizeof why);
  uint64_t pid = 0, sup = 0;
  struct json *annotations = json_get(j, "annotations");
  if (!j || field_string(j, "id", &st->id) < 0 || field_string(j, "bundle", &st->bundle) < 0 ||
      field_string(j, "created", &st->created) < 0 || field_string(j, "cgroupsPath", &st->cgroups_path) < 0 ||
      field_number(j, "pid", &pid) < 0 || field_number(j, "pidStartTime", &st->pid_start_time) < 0 ||
      field_number(j, "supervisorPid", &sup) < 0 ||
      field_number(j, "supervisorStartTime", &st->supervisor_start_time) < 0 || !annotations ||
      annotations->type != JSON_OBJECT) {
    snprintf(err, errlen, "%s: %s", path, j ? "missing or bad fields" : why);
    free(path);
    return errno = EINVAL, -1;
  }
  free(path);
  st->pid = (pid_t)pid;
  st->supervisor_pid = (pid_t)sup;
  struct buf b = {0};
  buf_json(&b, annotations);
  st->annotations_json = b.data;
  return 0;
}

bool state_process_alive(pid_t pid, uint64_t start_time) {
  return pid > 0 && start_time != 0 && proc_start_time(pid) == start_time;
}

enum status state_status(const char *dir, const struct state *st) {
  char path[4096];
  snprintf(path, sizeof path, "%s/exit", dir);
  if (access(path, F_OK) == 0) return STATUS_STOPPED;
  if (!state_process_alive(st->pid, st->pid_start_time)) return STATUS_STOPPED;
  snprintf(path, sizeof path, "%s/exec.fifo", dir);
  return access(path, F_OK) == 0 ? STATUS_CREATED : STATUS_RUNNING;
}

int state_remove(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    /* Only plain files live here. */
    if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
      int saved = errno;
      closedir(d);
      return errno = saved, -1;
    }
  }
  closedir(d);
  return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}
