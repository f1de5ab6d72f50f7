/*
 * A container's state directory, <root>/<id>/ (state.c):
 *   state.json  written once the init is ready (atomically):
 *               {"id","bundle","pid","pidStartTime","supervisorPid","supervisorStartTime",
 *                "created","cgroupsPath","annotations"}
 *               start times are field 22 of /proc/PID/stat, so a reused pid is not taken for ours
 *   exec.fifo   from `create` until `start`: the init blocks on it
 *   exit        once the container has ended: {"exitCode":N,"oomKilled":bool}
 *   creating    while `create` (or `run`) sets the container up, until state.json is written:
 *               {"bundle","cgroupsPath"}, locked (flock) by the processes doing it. Left behind
 *               unlocked, it means the create died half-way.
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

/*
 * Makes the state directory <root>/<id> with its `creating` file, locked: both appear at once (the
 * directory is made under a name no id can have and renamed into place), so no reader sees the
 * one without the other. Returns the descriptor holding the lock, for state_created, or -1 with
 * errno set (EEXIST: the id is taken).
 */
int state_create(const char *root, const char *id, const char *bundle, const char *cgroups_path);

/* state.json is written: removes `creating` and lets go of this process's hold on its lock. */
void state_created(const char *dir, int lock_fd);

int state_write(const char *dir, const struct state *st);

/*
 * Reads state.json: 0; or -1 with errno EINPROGRESS while a create holds the directory, ENOENT
 * when there is no state.json and no create running (it died half-way), or another reason in err.
 * Without state.json, st->bundle and st->cgroups_path are what `creating` names (NULL without it).
 */
int state_read(const char *dir, struct state *st, char *err, size_t errlen);

/* What the container is doing now, from the files and the processes they name. */
enum status state_status(const char *dir, const struct state *st);

/* Whether the process with this pid is still the one recorded (same start time). */
bool state_process_alive(pid_t pid, uint64_t start_time);

/* Removes the state directory and what is in it. */
int state_remove(const char *dir);

#endif
