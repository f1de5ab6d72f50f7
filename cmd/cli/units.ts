/**
 * Units as docker spells them on the command line and in compose files: Go durations (`10s`,
 * `1m30s`, `500ms`), memory sizes (`512m`, `1g`, plain bytes; binary multiples), CPU counts
 * (`0.5` CPUs = 500000000 nano-CPUs), and the reverse for display, plus docker's relative ages.
 * Parsers throw `UnitError` with what was expected; callers name the flag or key.
 */
export class UnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

const durationUnitsMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration such as `1h2m3.5s` or `500ms`, in whole milliseconds. A bare `0` is zero. */
export function parseDuration(text: string): number {
  const expected = `invalid duration "${text}": use a number with a unit, like 10s, 1m30s or 500ms`;
  if (text === '0') return 0;
  if (text === '') throw new UnitError(expected);
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    if (!m) throw new UnitError(expected);
    total += Number(m[1]) * durationUnitsMs[m[2]!]!;
    at = part.lastIndex;
  }
  return Math.round(total);
}

/** Milliseconds as Go prints a duration: `0s`, `500ms`, `10s`, `1m30s`, `1h0m0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  const s = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

const memoryMultipliers: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** A memory size as docker reads it (`512m`, `1g`, `1.5GiB`, `1024`), in bytes. Multiples are binary. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UnitError(`invalid size "${text}": use a number of bytes with an optional unit, like 512m or 1g`);
  return Math.floor(Number(m[1]) * memoryMultipliers[m[2]!.toLowerCase()]!);
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes as docker shows them: `512MiB`, `1.5GiB`, `100B`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${byteUnits[unit]}`;
}

/** A decimal CPU count (`0.5`, `2`) in nano-CPUs, exactly: no float rounding, at most 9 decimals. */
export function parseCpus(text: string): number {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) {
    throw new UnitError(`invalid CPU count "${text}": use a decimal number of CPUs, like 0.5 or 2`);
  }
  const fraction = m[2] ?? '';
  if (fraction.length > 9 && /[1-9]/.test(fraction.slice(9))) {
    throw new UnitError(`invalid CPU count "${text}": more precise than a billionth of a CPU`);
  }
  const nanos = BigInt(m[1] || '0') * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
  if (nanos > BigInt(Number.MAX_SAFE_INTEGER)) throw new UnitError(`invalid CPU count "${text}": too large`);
  return Number(nanos);
}

/** Nano-CPUs as a decimal CPU count: 500000000 → `0.5`. */
export function formatCpus(nanoCpus: number): string {
  const whole = Math.floor(nanoCpus / 1e9);
  const fraction = String(nanoCpus % 1e9).padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? String(whole) : `${whole}.${fraction}`;
}

/** How long ago, as docker says it: `Less than a second`, `5 seconds`, `About a minute`, `3 hours`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** `5 minutes ago`, or `` for a zero (never set) timestamp. */
export function ago(timestampMs: number, nowMs: number): string {
  if (timestampMs <= 0) return '';
  return `${humanDuration(Math.max(0, nowMs - timestampMs))} ago`;
}
