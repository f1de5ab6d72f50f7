/*
 * A small strict JSON reader (RFC 8259: no comments, no trailing commas, no duplicate keys, valid
 * UTF-8) into a tree, and a growable buffer to write JSON with. Enough for config.json and the
 * runtime's own state files; nodes live until the process ends (nothing here is freed).
 */
#ifndef SHOAL_JSON_H
#define SHOAL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
  enum json_type type;
  bool boolean;
  char *text;   /* JSON_STRING: the decoded string (NUL-terminated); JSON_NUMBER: its literal */
  size_t len;   /* JSON_STRING: bytes in text, which may hold a \u0000 */
  struct json **items; /* JSON_ARRAY: the elements; JSON_OBJECT: the values */
  char **keys;         /* JSON_OBJECT: the keys, in document order */
  size_t n;            /* number of items (and keys) */
};

/* Parses a whole document. NULL with "at byte N: reason" in err when it is not valid JSON. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);

/* The member `key` of an object, or NULL when absent (or when obj is not an object). */
struct json *json_get(const struct json *obj, const char *key);

/* Exact integer values of a JSON_NUMBER: 0, or -1 when it is not an integer in range. */
int json_int64(const struct json *num, int64_t *out);
int json_uint64(const struct json *num, uint64_t *out);

const char *json_type_name(enum json_type type);

/* A growable, always NUL-terminated output buffer; allocation failure aborts the process. */
struct buf {
  char *data;
  size_t len, cap;
};

void buf_add(struct buf *b, const char *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a quoted JSON string (len bytes, which must be UTF-8). */
void buf_json_string(struct buf *b, const char *s, size_t len);
/* A parsed value written back out, compactly. */
void buf_json(struct buf *b, const struct json *value);

#endif
