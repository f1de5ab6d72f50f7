/* A strict recursive-descent JSON parser and a small writer (see json.h). */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Deeper nesting than any config has; the limit keeps a hostile file from exhausting the stack. */
#define MAX_DEPTH 128

struct parser {
  const char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
  bool failed;
};

static void *xrealloc(void *p, size_t size) {
  p = realloc(p, size ? size : 1);
  if (!p) {
    fputs("shoal-runtime: out of memory\n", stderr);
    abort();
  }
  return p;
}

static void fail(struct parser *p, const char *fmt, ...) {
  if (p->failed) return;
  p->failed = true;
  int n = snprintf(p->err, p->errlen, "at byte %zu: ", p->pos);
  if (n < 0 || (size_t)n >= p->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

static void skip_space(struct parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static struct json *node(enum json_type type) {
  struct json *j = xrealloc(NULL, sizeof *j);
  memset(j, 0, sizeof *j);
  j->type = type;
  return j;
}

static bool literal(struct parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return false;
  p->pos += n;
  return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static struct json *parse_number(struct parser *p) {
  size_t start = p->pos;
  if (p->pos < p->len && p->s[p->pos] == '-') p->pos++;
  if (p->pos < p->len && p->s[p->pos] == '0') p->pos++;
  else if (p->pos < p->len && is_digit(p->s[p->pos]))
    while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
  else return fail(p, "bad number"), NULL;
  if (p->pos < p->len && p->s[p->pos] == '.') {
    p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return fail(p, "bad number: digit expected after '.'"), NULL;
    while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return fail(p, "bad number: digit expected in exponent"), NULL;
    while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
  }
  struct json *j = node(JSON_NUMBER);
  j->text = xrealloc(NULL, p->pos - start + 1);
  memcpy(j->text, p->s + start, p->pos - start);
  j->text[p->pos - start] = '\0';
  return j;
}

static int hex4(struct parser *p, unsigned *out) {
  if (p->len - p->pos < 4) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos + (size_t)i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  p->pos += 4;
  *out = v;
  return 0;
}

static void put_utf8(struct buf *b, unsigned c) {
  char u[4];
  size_t n;
  if (c < 0x80) u[0] = (char)c, n = 1;
  else if (c < 0x800) u[0] = (char)(0xc0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3f)), n = 2;
  else if (c < 0x10000)
    u[0] = (char)(0xe0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3f)), u[2] = (char)(0x80 | (c & 0x3f)), n = 3;
  else
    u[0] = (char)(0xf0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3f)), u[2] = (char)(0x80 | ((c >> 6) & 0x3f)),
    u[3] = (char)(0x80 | (c & 0x3f)), n = 4;
  buf_add(b, u, n);
}

/* At the opening quote; returns the decoded string in a buffer the caller owns. */
static int parse_string_raw(struct parser *p, struct buf *out) {
  p->pos++;
  for (;;) {
    if (p->pos >= p->len) return fail(p, "unterminated string"), -1;
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c == '"') {
      p->pos++;
      if (!out->data) buf_add(out, "", 0);
      return 0;
    }
    if (c < 0x20) return fail(p, "control character in string"), -1;
    if (c != '\\') {
      size_t n = utf8_length((const unsigned char *)p->s + p->pos, p->len - p->pos);
      if (n == 0) return fail(p, "invalid UTF-8 in string"), -1;
      buf_add(out, p->s + p->pos, n);
      p->pos += n;
      continue;
    }
    p->pos++;
    if (p->pos >= p->len) return fail(p, "unterminated string"), -1;
    char e = p->s[p->pos++];
    switch (e) {
    case '"': buf_add(out, "\"", 1); break;
    case '\\': buf_add(out, "\\", 1); break;
    case '/': buf_add(out, "/", 1); break;
    case 'b': buf_add(out, "\b", 1); break;
    case 'f': buf_add(out, "\f", 1); break;
    case 'n': buf_add(out, "\n", 1); break;
    case 'r': buf_add(out, "\r", 1); break;
    case 't': buf_add(out, "\t", 1); break;
    case 'u': {
      unsigned cp;
      if (hex4(p, &cp) < 0) return fail(p, "bad \\u escape"), -1;
      if (cp >= 0xdc00 && cp <= 0xdfff) return fail(p, "unpaired low surrogate"), -1;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
          return fail(p, "unpaired high surrogate"), -1;
        p->pos += 2;
        if (hex4(p, &lo) < 0) return fail(p, "bad \\u escape"), -1;
        if (lo < 0xdc00 || lo > 0xdfff) return fail(p, "unpaired high surrogate"), -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      put_utf8(out, cp);
      break;
    }
    default: p->pos--; return fail(p, "bad escape '\\%c'", e), -1;
    }
  }
}

static struct json *parse_value(struct parser *p, int depth);

static struct json *parse_array(struct parser *p, int depth) {
  struct json *j = node(JSON_ARRAY);
  size_t cap = 0;
  p->pos++;
  skip_space(p);
  if (p->pos < p->len && p->s[p->pos] == ']') return p->pos++, j;
  for (;;) {
    struct json *item = parse_value(p, depth + 1);
    if (!item) return NULL;
    if (j->n == cap) cap = cap ? cap * 2 : 4, j->items = xrealloc(j->items, cap * sizeof *j->items);
    j->items[j->n++] = item;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == ']') return p->pos++, j;
    return fail(p, "',' or ']' expected"), NULL;
  }
}

static struct json *parse_object(struct parser *p, int depth) {
  struct json *j = node(JSON_OBJECT);
  size_t cap = 0;
  p->pos++;
  skip_space(p);
  if (p->pos < p->len && p->s[p->pos] == '}') return p->pos++, j;
  for (;;) {
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, "object key expected"), NULL;
    size_t key_at = p->pos;
    struct buf key = {0};
    if (parse_string_raw(p, &key) < 0) return NULL;
    if (memchr(key.data, '\0', key.len)) return p->pos = key_at, fail(p, "NUL in object key"), NULL;
    if (json_get(j, key.data)) return p->pos = key_at, fail(p, "duplicate key \"%s\"", key.data), NULL;
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, "':' expected"), NULL;
    p->pos++;
    struct json *value = parse_value(p, depth + 1);
    if (!value) return NULL;
    if (j->n == cap) {
      cap = cap ? cap * 2 : 4;
      j->items = xrealloc(j->items, cap * sizeof *j->items);
      j->keys = xrealloc(j->keys, cap * sizeof *j->keys);
    }
    j->keys[j->n] = key.data;
    j->items[j->n++] = value;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == '}') return p->pos++, j;
    return fail(p, "',' or '}' expected"), NULL;
  }
}

static struct json *parse_value(struct parser *p, int depth) {
  if (depth > MAX_DEPTH) return fail(p, "nested too deeply"), NULL;
  skip_space(p);
  if (p->pos >= p->len) return fail(p, "value expected, found end of input"), NULL;
  char c = p->s[p->pos];
  if (c == '{') return parse_object(p, depth);
  if (c == '[') return parse_array(p, depth);
  if (c == '"') {
    struct buf s = {0};
    if (parse_string_raw(p, &s) < 0) return NULL;
    struct json *j = node(JSON_STRING);
    j->text = s.data;
    j->len = s.len;
    return j;
  }
  if (c == '-' || is_digit(c)) return parse_number(p);
  if (literal(p, "true")) {
    struct json *j = node(JSON_BOOL);
    j->boolean = true;
    return j;
  }
  if (literal(p, "false")) return node(JSON_BOOL);
  if (literal(p, "null")) return node(JSON_NULL);
  return fail(p, "unexpected character '%c'", c), NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen) {
  struct parser p = {.s = text, .len = len, .err = err, .errlen = errlen};
  struct json *j = parse_value(&p, 0);
  if (!j) return NULL;
  skip_space(&p);
  if (p.pos != p.len) return fail(&p, "unexpected data after the value"), NULL;
  return j;
}

struct json *json_get(const struct json *obj, const char *key) {
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}

int json_int64(const struct json *num, int64_t *out) {
  if (!num || num->type != JSON_NUMBER || strpbrk(num->text, ".eE")) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(num->text, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int json_uint64(const struct json *num, uint64_t *out) {
  if (!num || num->type != JSON_NUMBER || strpbrk(num->text, ".eE") || num->text[0] == '-') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(num->text, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

const char *json_type_name(enum json_type type) {
  static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  return names[type];
}

void buf_add(struct buf *b, const char *data, size_t len) {
  if (b->len + len + 1 > b->cap) {
    while (b->len + len + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 64;
    b->data = xrealloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    buf_add(b, small, (size_t)n);
    return;
  }
  char *big = xrealloc(NULL, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf_add(b, big, (size_t)n);
  free(big);
}

void buf_json_string(struct buf *b, const char *s, size_t len) {
  buf_add(b, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_add(b, e, 2);
    } else if (c == '\n') buf_add(b, "\\n", 2);
    else if (c == '\t') buf_add(b, "\\t", 2);
    else if (c == '\r') buf_add(b, "\\r", 2);
    else if (c < 0x20) buf_printf(b, "\\u%04x", c);
    else buf_add(b, (const char *)&s[i], 1);
  }
  buf_add(b, "\"", 1);
}

void buf_json(struct buf *b, const struct json *v) {
  switch (v->type) {
  case JSON_NULL: buf_puts(b, "null"); break;
  case JSON_BOOL: buf_puts(b, v->boolean ? "true" : "false"); break;
  case JSON_NUMBER: buf_puts(b, v->text); break;
  case JSON_STRING: buf_json_string(b, v->text, v->len); break;
  case JSON_ARRAY:
    buf_add(b, "[", 1);
    for (size_t i = 0; i < v->n; i++) {
      if (i) buf_add(b, ",", 1);
      buf_json(b, v->items[i]);
    }
    buf_add(b, "]", 1);
    break;
  case JSON_OBJECT:
    buf_add(b, "{", 1);
    for (size_t i = 0; i < v->n; i++) {
      if (i) buf_add(b, ",", 1);
      buf_json_string(b, v->keys[i], strlen(v->keys[i]));
      buf_add(b, ":", 1);
      buf_json(b, v->items[i]);
    }
    buf_add(b, "}", 1);
    break;
  }
}
