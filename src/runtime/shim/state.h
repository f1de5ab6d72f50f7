/*
 * A container's state directory, <root>/<id>/ (state.c):
 *   state.json  written once the init is ready (atomically):
 *               {"id","bundle","pid","pidStartTime","supervisorPid","supervisorStartTime",
 *                "created","cgroupsPath","annotations"}
 *               start times are field 22 of /proc/PID/stat, so a reused pid is not taken for ours
 *   exec.fifo   from `create` until `start`: the init blocks on it
 *   exit        once the container has ended: {"exitCode":N,"oomKilled":bool}
 */
#ifndef SHOAL_STATE_H
#define SHOAL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct state {
  char *id, *bundle, *created, *cgroups_path;
  char *annotations_json; /* an object, as JSON */
  pid_t pid;
  uint64_t pid_start_time;
  pid_t supervisor_pid;
  uint64_t supervisor_start_time;
};

enum status { STATUS_CREATING, STATUS_CREATED, STATUS_RUNNING, STATUS_STOPPED };

const char *status_name(enum status status);

/* Container ids: letters, digits, '_', '-', '.' (not first), at most 1024 bytes. */
bool state_valid_id(const char *id);

int state_write(const char *dir, const struct state *st);
/* 0; -1 with errno ENOENT when there is no state.json (yet), or another reason in err. */
int state_read(const char *dir, struct state *st, char *err, size_t errlen);

/* What the container is doing now, from the files and the processes they name. */
enum status state_status(const char *dir, const struct state *st);

/* Whether the process with this pid is still the one recorded (same start time). */
bool state_process_alive(pid_t pid, uint64_t start_time);

/* Removes the state directory and what is in it. */
int state_remove(const char *dir);

#endif
