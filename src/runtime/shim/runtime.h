/* The OCI runtime verbs (runtime.c), called by main.c with the global options parsed. */
#ifndef SHOAL_RUNTIME_H
#define SHOAL_RUNTIME_H

struct globals {
  const char *root; /* the state root: one directory per container */
};

/* Each returns the process's exit status; errors are reported through runtime_error. */
int cmd_spec(const struct globals *g, int argc, char **argv);
int cmd_create(const struct globals *g, int argc, char **argv);
int cmd_run(const struct globals *g, int argc, char **argv);
int cmd_start(const struct globals *g, int argc, char **argv);
int cmd_state(const struct globals *g, int argc, char **argv);
int cmd_kill(const struct globals *g, int argc, char **argv);
int cmd_delete(const struct globals *g, int argc, char **argv);
int cmd_exec(const struct globals *g, int argc, char **argv);

/* One line on stderr (and in the --log file, if any): "shoal-runtime: <message>". */
void runtime_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
