/*
 * shoal-runtime: an OCI runtime command line (as runc's) that also stays as each container's
 * supervisor. See README.md for the commands, the state directory and shoal's annotations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "runtime.h"
#include "util.h"

static const char *log_path, *log_format = "text";

void runtime_error(const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One line, whatever the reason holds. */
  for (char *p = msg; *p; p++)
    if (*p == '\n') *p = ' ';
  char line[2100];
  int n = snprintf(line, sizeof line, "shoal-runtime: %s\n", msg);
  write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  if (!log_path) return;
  /* As runc's --log: callers such as containerd read the reason from there. */
  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char time[40];
  format_time(time, sizeof time, &now);
  struct buf b = {0};
  if (!strcmp(log_format, "json")) {
    buf_puts(&b, "{\"level\":\"error\",\"msg\":");
    buf_json_string(&b, msg, strlen(msg));
    buf_printf(&b, ",\"time\":\"%s\"}\n", time);
  } else {
    buf_printf(&b, "time=\"%s\" level=error msg=", time);
    buf_json_string(&b, msg, strlen(msg));
    buf_puts(&b, "\n");
  }
  write_all(fd, b.data, b.len);
  close(fd);
}

static const struct {
  const char *name;
  int (*run)(const struct globals *, int, char **);
} commands[] = {
    {"spec", cmd_spec},   {"create", cmd_create}, {"run", cmd_run},       {"start", cmd_start},
    {"state", cmd_state}, {"kill", cmd_kill},     {"delete", cmd_delete}, {"exec", cmd_exec},
};

static int usage(void) {
  runtime_error("usage: shoal-runtime [--root DIR] [--log FILE] [--log-format text|json] "
                "spec|create|start|run|state|kill|delete|exec ...");
  return 1;
}

/* The value of a global option at argv[*i] ("--name v" or "--name=v"); NULL when it is another. */
static const char *global_option(int argc, char **argv, int *i, const char *name) {
  const char *arg = argv[*i];
  const char *p = arg[1] == '-' ? arg + 2 : arg + 1;
  size_t n = strlen(name);
  if (strncmp(p, name, n) != 0) return NULL;
  if (p[n] == '=') return p + n + 1;
  if (p[n] != '\0' || *i + 1 >= argc) return NULL;
  return argv[++*i];
}

int main(int argc, char **argv) {
  /* Whatever the caller left open must reach neither a supervisor that outlives it nor a container. */
  close_range(3, ~0U, 0);
  struct globals g = {.root = "/run/shoal-runtime"};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *v;
    if ((v = global_option(argc, argv, &i, "root"))) g.root = v;
    else if ((v = global_option(argc, argv, &i, "log"))) log_path = v;
    else if ((v = global_option(argc, argv, &i, "log-format"))) log_format = v;
    else {
      runtime_error("unknown option %s", argv[i]);
      return 1;
    }
  }
  if (strcmp(log_format, "text") && strcmp(log_format, "json")) {
    runtime_error("--log-format must be text or json, not \"%s\"", log_format);
    return 1;
  }
  if (i >= argc) return usage();
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    if (!strcmp(argv[i], commands[c].name)) return commands[c].run(&g, argc - i - 1, argv + i + 1);
  runtime_error("unknown command \"%s\"", argv[i]);
  return 1;
}
