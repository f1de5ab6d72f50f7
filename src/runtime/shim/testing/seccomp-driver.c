/*
 * Test driver for seccomp.c (built by seccomp.test.ts with gcc, not part of shoal-runtime).
 *
 *   seccomp-driver compile PROFILE                 prints "instructions N", or the error and exits 1
 *   seccomp-driver run [--no-nnp] PROFILE [CALL...] [-- CMD ARG...]
 *       installs the filter (after no_new_privs unless --no-nnp), makes each CALL and prints
 *       "CALL ok" or "CALL errno N", then execs CMD when given.
 *
 * PROFILE is a file of lines (JSON is spec.c's business, not this driver's):
 *   default ACTION[:ERRNO]
 *   rule ACTION[:ERRNO] NAME[,NAME...] [INDEX:OP:VALUE[:VALUE2]]...
 * with ACTION and OP the SCMP_ names; numbers in C notation (0x.. allowed); '#' starts a comment.
 *
 * A CALL is a syscall name with arguments after colons ("mkdir:/tmp/x:0755", "personality:8"):
 * an argument that reads whole as a number is passed as one, anything else as a string. A name
 * prefixed "x32." is made with the x32 bit set; "i386.getpid" is getpid through int 0x80, the
 * 32-bit entry, whose architecture is not x86_64.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "seccomp.h"
#include "syscall-table.h"

static void die(const char *fmt, const char *what) {
  fprintf(stderr, fmt, what);
  fputc('\n', stderr);
  exit(1);
}

static void *grow(void *array, size_t n, size_t size) {
  void *p = realloc(array, (n + 1) * size);
  if (!p) die("%s", "out of memory");
  return p;
}

static uint64_t number(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end) die("not a number: %s", s);
  return v;
}

/* "SCMP_ACT_ERRNO:38": the action and its errno (EPERM when not given, as spec.c does). */
static void parse_action(char *word, enum seccomp_action *action, uint32_t *errno_ret) {
  char *colon = strchr(word, ':');
  *errno_ret = EPERM;
  if (colon) {
    *colon = '\0';
    *errno_ret = (uint32_t)number(colon + 1);
  }
  if (seccomp_action_from_name(word, action) != 0) die("unknown action %s", word);
}

static struct spec_seccomp_arg parse_arg(char *word) {
  struct spec_seccomp_arg arg = {0};
  char *save = NULL, *index = strtok_r(word, ":", &save), *op = strtok_r(NULL, ":", &save);
  char *value = strtok_r(NULL, ":", &save), *value_two = strtok_r(NULL, ":", &save);
  if (!index || !op || !value) die("bad argument rule %s", word);
  arg.index = (unsigned)number(index);
  if (seccomp_op_from_name(op, &arg.op) != 0) die("unknown operator %s", op);
  arg.value = number(value);
  if (value_two) arg.value_two = number(value_two);
  return arg;
}

static void parse_profile(const char *path, struct spec_seccomp *s) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open %s", path);
  char *line = NULL;
  size_t cap = 0;
  *s = (struct spec_seccomp){.default_action = SECCOMP_ACTION_ALLOW};
  while (getline(&line, &cap, f) >= 0) {
    char *save = NULL, *kind = strtok_r(line, " \t\n", &save);
    if (!kind || kind[0] == '#') continue;
    char *action = strtok_r(NULL, " \t\n", &save);
    if (!action) die("no action: %s", kind);
    if (strcmp(kind, "default") == 0) {
      parse_action(action, &s->default_action, &s->default_errno_ret);
      continue;
    }
    if (strcmp(kind, "rule") != 0) die("unknown line kind %s", kind);
    struct spec_seccomp_rule rule = {0};
    parse_action(action, &rule.action, &rule.errno_ret);
    char *names = strtok_r(NULL, " \t\n", &save);
    if (!names) die("%s", "a rule without names");
    for (char *save2 = NULL, *name = strtok_r(names, ",", &save2); name; name = strtok_r(NULL, ",", &save2)) {
      rule.names = grow(rule.names, rule.nnames, sizeof *rule.names);
      rule.names[rule.nnames++] = strdup(name);
    }
    for (char *word; (word = strtok_r(NULL, " \t\n", &save));) {
      rule.args = grow(rule.args, rule.nargs, sizeof *rule.args);
      rule.args[rule.nargs++] = parse_arg(word);
    }
    s->rules = grow(s->rules, s->nrules, sizeof *s->rules);
    s->rules[s->nrules++] = rule;
  }
  free(line);
  fclose(f);
}

static long i386_getpid(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) /* getpid in the i386 table */ : "memory");
  return r;
}

/* Makes one CALL; no allocation, since the filter may allow little more than the calls and write(2). */
static void call(const char *spec) {
  char copy[4096], *save = NULL;
  snprintf(copy, sizeof copy, "%s", spec);
  char *name = strtok_r(copy, ":", &save);
  long args[6] = {0};
  long r;
  if (strcmp(name, "i386.getpid") == 0) {
    r = i386_getpid();
    if (r < 0) {
      errno = (int)-r;
      r = -1;
    }
  } else {
    long bit = 0;
    if (strncmp(name, "x32.", 4) == 0) {
      bit = 0x40000000;
      name += 4;
    }
    long nr = -1;
    for (size_t i = 0; i < sizeof syscall_table / sizeof syscall_table[0]; i++) {
      if (strcmp(syscall_table[i].name, name) == 0) nr = syscall_table[i].nr;
    }
    if (nr < 0) die("unknown syscall %s", name);
    for (int i = 0; i < 6; i++) {
      char *arg = strtok_r(NULL, ":", &save), *end;
      if (!arg) break;
      unsigned long v = strtoul(arg, &end, 0);
      args[i] = *end || end == arg ? (long)arg : (long)v;
    }
    r = syscall(nr | bit, args[0], args[1], args[2], args[3], args[4], args[5]);
  }
  if (r == -1) printf("%s errno %d\n", spec, errno);
  else printf("%s ok\n", spec);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "compile") == 0) {
    struct spec_seccomp s;
    struct sock_fprog prog;
    char err[256];
    parse_profile(argv[2], &s);
    if (seccomp_compile(&s, &prog, err, sizeof err) != 0) die("%s", err);
    printf("instructions %u\n", prog.len);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "run") == 0) {
    int i = 2;
    bool nnp = strcmp(argv[i], "--no-nnp") != 0;
    if (!nnp) i++;
    if (i >= argc) die("%s", "no profile");
    struct spec_seccomp s;
    struct sock_fprog prog;
    char err[256];
    parse_profile(argv[i++], &s);
    if (seccomp_compile(&s, &prog, err, sizeof err) != 0) die("%s", err);
    /* Unbuffered, so each result is one write(2) and is out before a call that kills. */
    setvbuf(stdout, NULL, _IONBF, 0);
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs: %s", strerror(errno));
    if (seccomp_install(&prog) != 0) die("install: %s", strerror(errno));
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) call(argv[i]);
    if (i + 1 < argc) {
      execvp(argv[i + 1], &argv[i + 1]);
      printf("exec errno %d\n", errno);
      return 127;
    }
    return 0;
  }
  fprintf(stderr, "usage: seccomp-driver compile PROFILE | run [--no-nnp] PROFILE [CALL...] [-- CMD ARG...]\n");
  return 2;
}
