/*
 * Capabilities by name and the drop to a spec's sets (caps.h), over the raw capset(2) and prctl(2)
 * calls: libcap would be one more library on every node for a few system calls.
 *
 * The order matters and is split in two calls around the uid change: the bounding set can only
 * shrink while CAP_SETPCAP is effective (so before setuid clears the effective set), and the
 * permitted set survives setuid only with PR_SET_KEEPCAPS; capset then trims and restores the sets,
 * and the ambient ones are raised last because the kernel takes only those that are both
 * permitted and inheritable by then.
 */
#define _GNU_SOURCE
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Indexed by number, as in linux/capability.h. */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

#define NCAP_NAMES ((int)(sizeof cap_names / sizeof cap_names[0]))

int cap_from_name(const char *name) {
  for (int i = 0; i < NCAP_NAMES; i++) {
    if (strcmp(cap_names[i], name) == 0) return i;
  }
  return -1;
}

/*
 * The file first; without it (no /proc yet) the kernel answers PR_CAPBSET_READ with EINVAL for a
 * number it does not know, so the highest number it accepts is the answer.
 */
static int read_last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = '\0';
      char *end;
      long v = strtol(buf, &end, 10);
      if (end != buf && v >= 0 && v <= 63) return (int)v;
    }
  }
  int last = 0;
  while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) last++;
  return last;
}

int cap_last_supported(void) {
  static int last = -1;
  if (last < 0) last = read_last_cap();
  return last;
}

/* The bits of the capabilities the kernel knows: a name newer than the kernel is left out, as runc does. */
static uint64_t supported_mask(void) {
  int last = cap_last_supported();
  return last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
}

int caps_prepare(const struct spec_capabilities *caps) {
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return -1;
  int last = cap_last_supported();
  for (int cap = 0; cap <= last; cap++) {
    if (caps->bounding & (UINT64_C(1) << cap)) continue;
    /* Skipping the ones already gone spares a drop that would need CAP_SETPCAP for nothing. */
    int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) return -1;
    if (present && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return -1;
  }
  return 0;
}

int caps_apply(const struct spec_capabilities *caps) {
  uint64_t mask = supported_mask();
  /* Ambient capabilities the caller had must not leak into the container's through the capset below. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;

  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  /* Version 3 takes each set as two 32-bit words, the low one first. */
  struct __user_cap_data_struct data[2];
  uint64_t effective = caps->effective & mask, permitted = caps->permitted & mask;
  uint64_t inheritable = caps->inheritable & mask;
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(effective >> (32 * i));
    data[i].permitted = (uint32_t)(permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) != 0) return -1;

  uint64_t ambient = caps->ambient & mask;
  for (int cap = 0; cap < 64; cap++) {
    if ((ambient & (UINT64_C(1) << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return -1;
  }
  return 0;
}
