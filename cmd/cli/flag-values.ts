/**
 * Reading typed values out of parsed flags: each reader names the flag when the value is wrong,
 * so that `--update-delay 10` fails with "invalid value "10" for --update-delay: ...".
 */
import { UsageError } from './errors.js';
import type { ParsedFlags } from './flags.js';
import { parseCpus, parseDuration, parseMemory } from './units.js';

function read<T>(flags: ParsedFlags, name: string, parse: (text: string) => T): T | undefined {
  const text = flags.string(name);
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new UsageError(`invalid value "${text}" for --${name}: ${why}`);
  }
}

export function durationFlag(flags: ParsedFlags, name: string): number | undefined {
  return read(flags, name, parseDuration);
}

export function memoryFlag(flags: ParsedFlags, name: string): number | undefined {
  return read(flags, name, parseMemory);
}

export function cpuFlag(flags: ParsedFlags, name: string): number | undefined {
  return read(flags, name, parseCpus);
}

export function uintFlag(flags: ParsedFlags, name: string): number | undefined {
  return read(flags, name, parseUint);
}

export function ratioFlag(flags: ParsedFlags, name: string): number | undefined {
  return read(flags, name, (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) throw new Error('use a number between 0 and 1');
    return value;
  });
}

/** One of a fixed set of words, e.g. `--restart-condition on-failure`. */
export function choiceFlag<T>(flags: ParsedFlags, name: string, choices: Readonly<Record<string, T>>): T | undefined {
  return read(flags, name, (text) => {
    if (!Object.hasOwn(choices, text)) throw new Error(`use ${Object.keys(choices).join(', ')}`);
    return choices[text]!;
  });
}

export function parseUint(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new Error('use a whole number, 0 or more');
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error('too large');
  return value;
}

/** `KEY=VALUE` pairs (a bare `KEY` has an empty value) as docker's --label reads them. */
export function parseKeyValues(entries: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key === '') throw new UsageError(`invalid value "${entry}" for --${flag}: the key is empty`);
    out[key] = eq < 0 ? '' : entry.slice(eq + 1);
  }
  return out;
}

/**
 * `KEY=VALUE` environment entries; a bare `KEY` takes its value from the CLI's own environment
 * when set there (docker's habit), and is refused otherwise.
 */
export function resolveEnv(entries: readonly string[], env: Readonly<Record<string, string | undefined>>, flag: string): string[] {
  return entries.map((entry) => {
    if (entry.includes('=')) {
      if (entry.startsWith('=')) throw new UsageError(`invalid value "${entry}" for --${flag}: the variable name is empty`);
      return entry;
    }
    const value = env[entry];
    if (value === undefined) throw new UsageError(`invalid value "${entry}" for --${flag}: use KEY=VALUE (${entry} is not set in this environment)`);
    return `${entry}=${value}`;
  });
}

/** The variable name of an environment entry. */
export function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}
