/*
 * OCI seccomp rules compiled to a classic BPF program (seccomp.h), without libseccomp.
 *
 * The program, in the order the kernel runs it:
 *   1. the architecture: anything but x86_64 (an i386 call through int 0x80, say) kills the
 *      process, since the syscall numbers below mean other calls there;
 *   2. the syscall number, found by a binary search over ranges of numbers that end the same way.
 *      A Docker-sized profile allows long runs of neighbouring numbers, so a few dozen ranges
 *      cover some 350 names: the program stays far below the kernel's 4096 instructions and a
 *      call walks a handful of comparisons instead of a list of hundreds;
 *   3. a range ends in one return (the action of a rule without arguments, or the default) or, for
 *      a call with argument rules, in those rules in profile order: the first that holds decides,
 *      none holding gives the default.
 * Numbers above every known call fall in the last range, which is the default's: among them are
 * the x32 calls (number | 0x40000000, still under AUDIT_ARCH_X86_64), which a profile cannot name
 * here and which get the default action as libseccomp gives them to an x86_64-only filter.
 *
 * The program is written backwards, from its last instruction to its first: every jump goes
 * forward, so its target is already placed when the jump is written and its distance is known.
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscall-table.h"

static const struct {
  const char *name;
  enum seccomp_action action;
} action_names[] = {
    /* libseccomp's SCMP_ACT_KILL has always meant the thread. */
    {"SCMP_ACT_KILL", SECCOMP_ACTION_KILL_THREAD},
    {"SCMP_ACT_KILL_THREAD", SECCOMP_ACTION_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SECCOMP_ACTION_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SECCOMP_ACTION_TRAP},
    {"SCMP_ACT_ERRNO", SECCOMP_ACTION_ERRNO},
    {"SCMP_ACT_TRACE", SECCOMP_ACTION_TRACE},
    {"SCMP_ACT_LOG", SECCOMP_ACTION_LOG},
    {"SCMP_ACT_ALLOW", SECCOMP_ACTION_ALLOW},
};

static const struct {
  const char *name;
  enum seccomp_op op;
} op_names[] = {
    {"SCMP_CMP_NE", SECCOMP_OP_NE},
    {"SCMP_CMP_LT", SECCOMP_OP_LT},
    {"SCMP_CMP_LE", SECCOMP_OP_LE},
    {"SCMP_CMP_EQ", SECCOMP_OP_EQ},
    {"SCMP_CMP_GE", SECCOMP_OP_GE},
    {"SCMP_CMP_GT", SECCOMP_OP_GT},
    {"SCMP_CMP_MASKED_EQ", SECCOMP_OP_MASKED_EQ},
};

int seccomp_action_from_name(const char *name, enum seccomp_action *out) {
  for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++) {
    if (strcmp(action_names[i].name, name) == 0) {
      *out = action_names[i].action;
      return 0;
    }
  }
  return -1;
}

int seccomp_op_from_name(const char *name, enum seccomp_op *out) {
  for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
    if (strcmp(op_names[i].name, name) == 0) {
      *out = op_names[i].op;
      return 0;
    }
  }
  return -1;
}

#define NSYSCALLS (sizeof syscall_table / sizeof syscall_table[0])

static int compare_entry(const void *key, const void *entry) {
  return strcmp(key, ((const struct syscall_entry *)entry)->name);
}

static int syscall_number(const char *name) {
  const struct syscall_entry *e = bsearch(name, syscall_table, NSYSCALLS, sizeof syscall_table[0], compare_entry);
  return e ? e->nr : -1;
}

/* The filter's return value for an action; false for a value outside the enum. */
static bool action_value(enum seccomp_action action, uint32_t data, uint32_t *out) {
  switch (action) {
  case SECCOMP_ACTION_KILL_THREAD: *out = SECCOMP_RET_KILL_THREAD; return true;
  case SECCOMP_ACTION_KILL_PROCESS: *out = SECCOMP_RET_KILL_PROCESS; return true;
  case SECCOMP_ACTION_TRAP: *out = SECCOMP_RET_TRAP; return true;
  case SECCOMP_ACTION_ERRNO: *out = SECCOMP_RET_ERRNO | data; return true;
  case SECCOMP_ACTION_TRACE: *out = SECCOMP_RET_TRACE | data; return true;
  case SECCOMP_ACTION_LOG: *out = SECCOMP_RET_LOG; return true;
  case SECCOMP_ACTION_ALLOW: *out = SECCOMP_RET_ALLOW; return true;
  }
  return false;
}

static bool valid_data(enum seccomp_action action, uint32_t data) {
  return (action != SECCOMP_ACTION_ERRNO && action != SECCOMP_ACTION_TRACE) || data <= SECCOMP_RET_DATA;
}

/* The program being written backwards: ins[0] is its last instruction. */
struct prog {
  struct sock_filter *ins;
  size_t n, cap;
  bool failed; /* out of memory */
};

/*
 * A label is the value of n just after its instruction was written; an instruction written when
 * n is c lands c - label instructions before it, which is how far it jumps. The next instruction
 * in program order is the one written last, so a jump to it is a jump to label n, distance 0.
 */
static void put(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
  if (p->failed) return;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 512;
    struct sock_filter *ins = realloc(p->ins, cap * sizeof *ins);
    if (!ins) {
      p->failed = true;
      return;
    }
    p->ins = ins;
    p->cap = cap;
  }
  p->ins[p->n++] = (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
}

static size_t stmt(struct prog *p, uint16_t code, uint32_t k) {
  put(p, code, 0, 0, k);
  return p->n;
}

static size_t ret(struct prog *p, uint32_t value) {
  return stmt(p, BPF_RET | BPF_K, value);
}

/* Loads the 32-bit word at offset in struct seccomp_data. */
static size_t load(struct prog *p, uint32_t offset) {
  return stmt(p, BPF_LD | BPF_W | BPF_ABS, offset);
}

/*
 * A conditional jump (BPF_JEQ, BPF_JGT or BPF_JGE against k) to labels on true and false.
 * Those offsets are 8 bits; a target further away is reached through an unconditional jump, whose
 * offset is 32 bits, placed right after.
 */
static size_t jump(struct prog *p, uint16_t op, uint32_t k, size_t on_true, size_t on_false) {
  if (p->n - on_true > 255) {
    stmt(p, BPF_JMP | BPF_JA, (uint32_t)(p->n - on_true));
    on_true = p->n;
  }
  if (p->n - on_false > 255) {
    stmt(p, BPF_JMP | BPF_JA, (uint32_t)(p->n - on_false));
    on_false = p->n;
  }
  put(p, BPF_JMP | op | BPF_K, (uint8_t)(p->n - on_true), (uint8_t)(p->n - on_false), k);
  return p->n;
}

/*
 * One 64-bit argument comparison from the two 32-bit halves the BPF loads can reach (x86_64 is
 * little-endian: the low half first). Continues to pass when it holds, to fail when not; written
 * backwards like the rest, so the comments read bottom-up in program order.
 */
static size_t compare(struct prog *p, const struct spec_seccomp_arg *a, size_t pass, size_t fail) {
  uint32_t low = offsetof(struct seccomp_data, args) + 8 * a->index, high = low + 4;
  uint32_t vlo = (uint32_t)a->value, vhi = (uint32_t)(a->value >> 32);
  switch (a->op) {
  case SECCOMP_OP_EQ:
  case SECCOMP_OP_NE: {
    bool eq = a->op == SECCOMP_OP_EQ;
    size_t yes = eq ? pass : fail, no = eq ? fail : pass;
    jump(p, BPF_JEQ, vlo, yes, no);   /* low == vlo: the whole value is equal */
    load(p, low);
    jump(p, BPF_JEQ, vhi, p->n, no);  /* high == vhi: look at the low half */
    return load(p, high);
  }
  case SECCOMP_OP_MASKED_EQ: {
    /* As in libseccomp, value is the mask and value_two what the masked argument must equal. */
    uint32_t dlo = (uint32_t)a->value_two, dhi = (uint32_t)(a->value_two >> 32);
    jump(p, BPF_JEQ, dlo, pass, fail);
    stmt(p, BPF_ALU | BPF_AND | BPF_K, vlo);
    load(p, low);
    jump(p, BPF_JEQ, dhi, p->n, fail);
    stmt(p, BPF_ALU | BPF_AND | BPF_K, vhi);
    return load(p, high);
  }
  case SECCOMP_OP_GT:
  case SECCOMP_OP_GE:
  case SECCOMP_OP_LT:
  case SECCOMP_OP_LE: {
    /* LT is not GE and LE is not GT: the same test with the outcomes swapped. */
    bool greater = a->op == SECCOMP_OP_GT || a->op == SECCOMP_OP_GE;
    bool strict = a->op == SECCOMP_OP_GT || a->op == SECCOMP_OP_LE;
    size_t yes = greater ? pass : fail, no = greater ? fail : pass;
    jump(p, strict ? BPF_JGT : BPF_JGE, vlo, yes, no); /* equal high halves: the low ones decide */
    size_t low_half = load(p, low);
    jump(p, BPF_JEQ, vhi, low_half, no); /* not greater and not equal: less */
    jump(p, BPF_JGT, vhi, yes, p->n);    /* a greater high half decides alone */
    return load(p, high);
  }
  }
  return p->n;
}

struct compiler {
  const struct spec_seccomp *rules;
  int *first_rule; /* by syscall number: the first rule naming it, or -1 */
  size_t *chain;   /* scratch: the rules naming one syscall, in order */
  uint32_t default_value;
  struct prog prog;
};

static bool names(const struct spec_seccomp_rule *rule, int nr) {
  for (size_t i = 0; i < rule->nnames; i++) {
    if (syscall_number(rule->names[i]) == nr) return true;
  }
  return false;
}

static uint32_t rule_value(const struct spec_seccomp_rule *rule) {
  uint32_t v = 0;
  action_value(rule->action, rule->errno_ret, &v); /* checked before compiling */
  return v;
}

/* A syscall whose first rule has no arguments always ends the same way, in value. */
static bool plain(const struct compiler *c, int nr, uint32_t *value) {
  int r = c->first_rule[nr];
  if (r < 0) {
    *value = c->default_value;
    return true;
  }
  if (c->rules->rules[r].nargs > 0) return false;
  *value = rule_value(&c->rules->rules[r]);
  return true;
}

/* The rules of one syscall with arguments, first match wins; returns the label of the first. */
static size_t emit_chain(struct compiler *c, int nr) {
  const struct spec_seccomp *s = c->rules;
  size_t n = 0;
  for (size_t r = (size_t)c->first_rule[nr]; r < s->nrules; r++) {
    if (!names(&s->rules[r], nr)) continue;
    c->chain[n++] = r;
    if (s->rules[r].nargs == 0) break; /* always matches: the rules after it never run */
  }
  struct prog *p = &c->prog;
  size_t next = s->rules[c->chain[n - 1]].nargs == 0 ? p->n : ret(p, c->default_value);
  for (size_t i = n; i-- > 0;) {
    const struct spec_seccomp_rule *rule = &s->rules[c->chain[i]];
    size_t pass = ret(p, rule_value(rule));
    for (size_t a = rule->nargs; a-- > 0;) pass = compare(p, &rule->args[a], pass, next);
    next = pass;
  }
  return next;
}

/* A range of syscall numbers, from start up to the next range's start, ending the same way. */
struct range {
  uint32_t start;
  bool plain;
  uint32_t value; /* plain: the filter's return value */
  int nr;         /* not plain: the one syscall, whose rules have arguments */
};

static size_t emit_search(struct compiler *c, const struct range *ranges, size_t lo, size_t hi) {
  if (hi - lo == 1) return ranges[lo].plain ? ret(&c->prog, ranges[lo].value) : emit_chain(c, ranges[lo].nr);
  size_t mid = lo + (hi - lo) / 2;
  size_t upper = emit_search(c, ranges, mid, hi);
  size_t lower = emit_search(c, ranges, lo, mid);
  return jump(&c->prog, BPF_JGE, ranges[mid].start, upper, lower);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int check(const struct spec_seccomp *s, char *err, size_t errlen) {
  uint32_t v;
  if (!action_value(s->default_action, s->default_errno_ret, &v)) {
    return fail(err, errlen, "seccomp: unknown default action");
  }
  if (!valid_data(s->default_action, s->default_errno_ret)) {
    return fail(err, errlen, "seccomp: default errnoRet %u is over 65535", s->default_errno_ret);
  }
  for (size_t r = 0; r < s->nrules; r++) {
    const struct spec_seccomp_rule *rule = &s->rules[r];
    if (!action_value(rule->action, rule->errno_ret, &v)) {
      return fail(err, errlen, "seccomp: rule %zu: unknown action", r);
    }
    if (!valid_data(rule->action, rule->errno_ret)) {
      return fail(err, errlen, "seccomp: rule %zu: errnoRet %u is over 65535", r, rule->errno_ret);
    }
    for (size_t a = 0; a < rule->nargs; a++) {
      if (rule->args[a].index > 5) {
        return fail(err, errlen, "seccomp: rule %zu: argument index %u is not 0 to 5", r, rule->args[a].index);
      }
      if (rule->args[a].op > SECCOMP_OP_MASKED_EQ) return fail(err, errlen, "seccomp: rule %zu: unknown operator", r);
    }
  }
  return 0;
}

int seccomp_compile(const struct spec_seccomp *rules, struct sock_fprog *out, char *err, size_t errlen) {
  if (check(rules, err, errlen) != 0) return -1;
  int nsys = 0;
  for (size_t i = 0; i < NSYSCALLS; i++) {
    if (syscall_table[i].nr >= nsys) nsys = syscall_table[i].nr + 1;
  }
  struct compiler c = {.rules = rules};
  action_value(rules->default_action, rules->default_errno_ret, &c.default_value);
  c.first_rule = malloc((size_t)nsys * sizeof *c.first_rule);
  c.chain = malloc((rules->nrules ? rules->nrules : 1) * sizeof *c.chain);
  /* Every number gets a range at worst, and the numbers past the last one more. */
  struct range *ranges = malloc(((size_t)nsys + 1) * sizeof *ranges);
  int rc = -1;
  if (!c.first_rule || !c.chain || !ranges) {
    fail(err, errlen, "seccomp: out of memory");
    goto out;
  }
  for (int nr = 0; nr < nsys; nr++) c.first_rule[nr] = -1;
  for (size_t r = rules->nrules; r-- > 0;) {
    /* Backwards, so the earliest rule naming a call is the one left. Unknown names are skipped. */
    for (size_t i = 0; i < rules->rules[r].nnames; i++) {
      int nr = syscall_number(rules->rules[r].names[i]);
      if (nr >= 0) c.first_rule[nr] = (int)r;
    }
  }

  size_t nranges = 0;
  for (int nr = 0; nr <= nsys; nr++) {
    uint32_t value = c.default_value; /* nsys and above: nothing names them */
    bool is_plain = nr == nsys || plain(&c, nr, &value);
    struct range *last = nranges ? &ranges[nranges - 1] : NULL;
    if (is_plain && last && last->plain && last->value == value) continue;
    ranges[nranges++] = (struct range){.start = (uint32_t)nr, .plain = is_plain, .value = value, .nr = nr};
  }

  struct prog *p = &c.prog;
  emit_search(&c, ranges, 0, nranges);
  size_t number = load(p, offsetof(struct seccomp_data, nr));
  size_t kill = ret(p, SECCOMP_RET_KILL_PROCESS);
  jump(p, BPF_JEQ, AUDIT_ARCH_X86_64, number, kill);
  load(p, offsetof(struct seccomp_data, arch));
  if (p->failed) {
    fail(err, errlen, "seccomp: out of memory");
    goto out;
  }
  if (p->n > BPF_MAXINSNS) {
    fail(err, errlen, "seccomp: the filter takes %zu instructions, more than the kernel's %d", p->n, BPF_MAXINSNS);
    goto out;
  }
  /* Into program order. */
  for (size_t i = 0, j = p->n - 1; i < j; i++, j--) {
    struct sock_filter t = p->ins[i];
    p->ins[i] = p->ins[j];
    p->ins[j] = t;
  }
  out->len = (unsigned short)p->n;
  out->filter = p->ins;
  p->ins = NULL;
  rc = 0;
out:
  free(p->ins);
  free(c.first_rule);
  free(c.chain);
  free(ranges);
  return rc;
}

int seccomp_install(const struct sock_fprog *filter) {
  /*
   * Without no_new_privs the kernel takes a filter only from a process with CAP_SYS_ADMIN in its
   * effective set (EACCES otherwise). The container's init still has it before it changes uid and
   * drops to the container's capabilities, so that is where it installs the filter in that case,
   * and the profile must then allow what the init does afterwards up to execve (setuid, capset,
   * prctl). With no_new_privs set first, any process may install one, and the init does it last,
   * just before execve.
   */
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, filter) == 0) return 0;
  if (errno != ENOSYS) return -1;
  /* Kernels before 3.17 have no seccomp(2), only the prctl. */
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter, 0, 0);
}
