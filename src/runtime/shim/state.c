#define _GNU_SOURCE
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

const char *status_name(enum status status) {
  static const char *const names[] = {"creating", "created", "running", "stopped"};
  return names[status];
}

bool state_valid_id(const char *id) {
  size_t len = strlen(id);
  if (len == 0 || len > 1024 || id[0] == '.') return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-' || *p == '.'))
      return false;
  return true;
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

int state_read(const char *dir, struct state *st, char *err, size_t errlen) {
  char *path = xasprintf("%s/state.json", dir);
  char *text;
  size_t len;
  if (read_file(path, &text, &len) < 0) {
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
