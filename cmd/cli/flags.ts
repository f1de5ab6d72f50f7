/**
 * A small typed flag parser with docker's (cobra's) habits: `--name value`, `--name=value`,
 * `-n value`, `-nvalue`, grouped boolean shorts (`-dq`), `--bool=false`, repeatable list flags and
 * `--` to end the options. No third-party parser: the CLI's needs are narrow and exact.
 */
import { UsageError } from './errors.js';

export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  /** The long name, without dashes. */
  readonly name: string;
  /** A one-letter alias, without the dash. */
  readonly short?: string;
  readonly kind: FlagKind;
  /** What the value is, shown in help ("duration", "bytes"); defaults to the kind. */
  readonly value?: string;
  readonly help: string;
}

export interface ParseOptions {
  /**
   * Treat everything from the first positional argument on as positional, so that
   * `service create IMAGE sh -c 'x'` passes `-c` to the container instead of parsing it.
   */
  readonly stopAtFirstPositional?: boolean;
}

export class ParsedFlags {
  constructor(
    private readonly specs: ReadonlyMap<string, FlagSpec>,
    private readonly values: ReadonlyMap<string, readonly string[]>,
  ) {}

  /** Whether the flag was given on the command line. */
  has(name: string): boolean {
    this.spec(name);
    return this.values.has(name);
  }

  bool(name: string): boolean {
    this.spec(name, 'bool');
    return this.values.get(name)?.at(-1) === 'true';
  }

  /** The last value given, as docker keeps the last of a repeated single-valued flag. */
  string(name: string): string | undefined {
    this.spec(name, 'string');
    return this.values.get(name)?.at(-1);
  }

  list(name: string): string[] {
    this.spec(name, 'list');
    return [...(this.values.get(name) ?? [])];
  }

  private spec(name: string, kind?: FlagKind): FlagSpec {
    const spec = this.specs.get(name);
    // A misspelt flag name in a command's own code is a programming error, not a usage error.
    if (!spec) throw new Error(`flag --${name} is not declared`);
    if (kind && spec.kind !== kind) throw new Error(`flag --${name} is a ${spec.kind} flag, not ${kind}`);
    return spec;
  }
}

export interface ParseResult {
  readonly flags: ParsedFlags;
  readonly args: string[];
}

export function parseArgs(specs: readonly FlagSpec[], argv: readonly string[], options: ParseOptions = {}): ParseResult {
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(spec.name, spec);
    if (spec.short) byShort.set(spec.short, spec);
  }
  const values = new Map<string, string[]>();
  const record = (spec: FlagSpec, value: string): void => {
    const list = values.get(spec.name) ?? [];
    list.push(value);
    values.set(spec.name, list);
  };
  const args: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (options.stopAtFirstPositional) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(arg);
      continue;
    }

    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (spec.kind === 'bool') {
        record(spec, eq < 0 ? 'true' : parseBool(arg.slice(eq + 1), `--${name}`));
      } else if (eq >= 0) {
        record(spec, arg.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        record(spec, argv[++i]!);
      }
      continue;
    }

    // One or more short flags: booleans may be grouped; a valued one takes the rest or the next arg.
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      const spec = byShort.get(letter);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${letter}' in ${arg}`);
      if (spec.kind === 'bool') {
        if (arg[j + 1] === '=') {
          record(spec, parseBool(arg.slice(j + 2), `-${letter}`));
          break;
        }
        record(spec, 'true');
        continue;
      }
      const rest = arg.slice(j + 1);
      if (rest !== '') {
        record(spec, rest.startsWith('=') ? rest.slice(1) : rest);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${letter}`);
        record(spec, argv[++i]!);
      }
      break;
    }
  }
  return { flags: new ParsedFlags(byName, values), args };
}

function parseBool(text: string, flag: string): string {
  if (text === 'true' || text === '1') return 'true';
  if (text === 'false' || text === '0') return 'false';
  throw new UsageError(`invalid value "${text}" for ${flag}: use true or false`);
}

/** The "Options:" block of a command's help: flags in the order declared, help aligned. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const left = specs.map((spec) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.kind === 'bool' ? '' : ` ${spec.value ?? spec.kind}`;
    return `  ${short}--${spec.name}${value}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  return specs.map((spec, i) => `${left[i]!.padEnd(width)}   ${spec.help}`).join('\n') + '\n';
}
