/** Command-line values the benchmarks share. */

/** A whole number above 0 given as `--name`, or one clear error naming the flag. */
export function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive whole number, got ${text}`);
  return n;
}
