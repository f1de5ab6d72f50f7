/**
 * The output choices docker's listing commands share: an aligned table (default), `--format json`
 * (the objects as one JSON array) and `-q/--quiet` (ids only).
 */
import { UsageError } from './errors.js';
import type { FlagSpec, ParsedFlags } from './flags.js';

export const formatFlag: FlagSpec = { name: 'format', kind: 'string', value: 'string', help: 'Output format: table (default) or json' };
export const quietFlag: FlagSpec = { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display IDs' };
export const noTruncFlag: FlagSpec = { name: 'no-trunc', kind: 'bool', help: 'Do not truncate output' };

export type OutputFormat = 'table' | 'json';

export function outputFormat(flags: ParsedFlags): OutputFormat {
  const format = flags.string('format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`invalid --format "${format}": use table or json`);
  return format;
}

/** Values as indented JSON, as docker's inspect prints them. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, null, 4) + '\n';
}
