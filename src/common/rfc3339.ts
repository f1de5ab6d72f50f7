/**
 * RFC 3339 times as docker's logs carry them (`2024-06-01T10:30:00.123456789Z`, any fraction
 * length, `Z` or an offset), compared to the nanosecond: a number of milliseconds would merge
 * lines written within the same millisecond.
 */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** The time as nanoseconds since the epoch, or undefined if it is not an RFC 3339 time. */
export function timeNanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
