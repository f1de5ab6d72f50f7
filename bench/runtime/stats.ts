/** What the runtime benchmark reports of a set of timings. */

export interface Summary {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** Nearest-rank percentiles (p99 of 50 samples is the largest) and the mean, in ms to 0.01. */
export function summarize(samplesMs: readonly number[]): Summary {
  if (samplesMs.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { p50Ms: round(rank(0.5)), p99Ms: round(rank(0.99)), meanMs: round(mean) };
}

export function p50(samplesMs: readonly number[]): number {
  return summarize(samplesMs).p50Ms;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
