/* Linux capabilities by name, and dropping a process to the sets of its spec (caps.c). */
#ifndef SHOAL_CAPS_H
#define SHOAL_CAPS_H

#include <stdint.h>
#include "spec.h"

/* The number of "CAP_CHOWN"-style names, or -1 when the name is not one this build knows. */
int cap_from_name(const char *name);

/* The highest capability number the running kernel knows (from /proc/sys/kernel/cap_last_cap). */
int cap_last_supported(void);

/*
 * Call before changing uid: keeps the permitted set across setuid (PR_SET_KEEPCAPS) and drops
 * every capability outside caps->bounding from the bounding set. Returns 0, or -1 with errno set.
 */
int caps_prepare(const struct spec_capabilities *caps);

/*
 * Call after setuid/setgid: sets effective, permitted and inheritable with capset(2), then raises
 * the ambient ones. Returns 0, or -1 with errno set.
 */
int caps_apply(const struct spec_capabilities *caps);

#endif
