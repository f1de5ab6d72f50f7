/* OCI seccomp rules compiled to a classic BPF filter and installed (seccomp.c). */
#ifndef SHOAL_SECCOMP_H
#define SHOAL_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include "spec.h"

/* "SCMP_ACT_ALLOW" etc.; 0, or -1 when unknown. */
int seccomp_action_from_name(const char *name, enum seccomp_action *out);
/* "SCMP_CMP_EQ" etc.; 0, or -1 when unknown. */
int seccomp_op_from_name(const char *name, enum seccomp_op *out);

/*
 * Builds the filter for the native architecture (x86_64; a call made under another architecture
 * kills the process). Names this build does not know are skipped, as libseccomp does, so one
 * profile serves several kernels. Returns 0, or -1 with a reason in err.
 */
int seccomp_compile(const struct spec_seccomp *rules, struct sock_fprog *out, char *err, size_t errlen);

/* Installs a compiled filter; the last step before exec. Returns 0, or -1 with errno set. */
int seccomp_install(const struct sock_fprog *filter);

#endif
