/*
 * Test driver for caps.c (built by caps.test.ts with gcc, not part of shoal-runtime).
 *
 *   caps-driver name NAME...   prints "NAME NUMBER" per name (-1 when unknown)
 *   caps-driver last           prints cap_last_supported()
 *   caps-driver apply [--uid N] [--bounding L] [--effective L] [--permitted L] [--inheritable L]
 *                     [--ambient L] [-- CMD ARG...]
 *       L is a comma-separated list of CAP_ names ("" for none). Drops to the sets as the
 *       container's init does (caps_prepare, the uid change, caps_apply), then execs CMD or, without
 *       one, prints the Cap lines of /proc/self/status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"

static uint64_t parse_list(const char *list) {
  uint64_t mask = 0;
  char *copy = strdup(list);
  for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    int cap = cap_from_name(name);
    if (cap < 0) {
      fprintf(stderr, "unknown capability %s\n", name);
      exit(2);
    }
    mask |= UINT64_C(1) << cap;
  }
  free(copy);
  return mask;
}

static int apply(int argc, char **argv) {
  static const struct option options[] = {
      {"uid", required_argument, NULL, 'u'},
      {"bounding", required_argument, NULL, 'b'},
      {"effective", required_argument, NULL, 'e'},
      {"permitted", required_argument, NULL, 'p'},
      {"inheritable", required_argument, NULL, 'i'},
      {"ambient", required_argument, NULL, 'a'},
      {NULL, 0, NULL, 0},
  };
  struct spec_capabilities caps = {0};
  long uid = -1;
  int opt;
  while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
    switch (opt) {
    case 'u': uid = strtol(optarg, NULL, 10); break;
    case 'b': caps.bounding = parse_list(optarg); break;
    case 'e': caps.effective = parse_list(optarg); break;
    case 'p': caps.permitted = parse_list(optarg); break;
    case 'i': caps.inheritable = parse_list(optarg); break;
    case 'a': caps.ambient = parse_list(optarg); break;
    default: return 2;
    }
  }
  if (caps_prepare(&caps) != 0) {
    perror("caps_prepare");
    return 1;
  }
  if (uid >= 0 && (setgroups(0, NULL) != 0 || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) != 0 ||
                   setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)) {
    perror("setuid");
    return 1;
  }
  if (caps_apply(&caps) != 0) {
    perror("caps_apply");
    return 1;
  }
  if (optind < argc) {
    execvp(argv[optind], &argv[optind]);
    perror(argv[optind]);
    return 127;
  }
  FILE *status = fopen("/proc/self/status", "r");
  if (!status) {
    perror("/proc/self/status");
    return 1;
  }
  char line[256];
  while (fgets(line, sizeof line, status)) {
    if (strncmp(line, "Cap", 3) == 0) fputs(line, stdout);
  }
  fclose(status);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "name") == 0) {
    for (int i = 2; i < argc; i++) printf("%s %d\n", argv[i], cap_from_name(argv[i]));
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "last") == 0) {
    printf("%d\n", cap_last_supported());
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "apply") == 0) return apply(argc - 1, argv + 1);
  fprintf(stderr, "usage: caps-driver name NAME... | last | apply [options] [-- CMD ARG...]\n");
  return 2;
}
