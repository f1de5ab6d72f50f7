import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { formatFlagHelp, parseArgs, type FlagSpec } from './flags.js';

const specs: FlagSpec[] = [
  { name: 'detach', short: 'd', kind: 'bool', help: 'Detach' },
  { name: 'quiet', short: 'q', kind: 'bool', help: 'Quiet' },
  { name: 'name', kind: 'string', help: 'Name' },
  { name: 'env', short: 'e', kind: 'list', help: 'Env' },
];

describe('parseArgs', () => {
  it('reads long flags with a separate or an attached value', () => {
    const { flags, args } = parseArgs(specs, ['--name', 'web', 'nginx', '--name=api']);
    expect(flags.string('name')).toBe('api');
    expect(args).toEqual(['nginx']);
  });

  it('collects repeated list flags in order, from long and short forms', () => {
    const { flags } = parseArgs(specs, ['-e', 'A=1', '--env=B=2', '-eC=3', '-e=D=4']);
    expect(flags.list('env')).toEqual(['A=1', 'B=2', 'C=3', 'D=4']);
  });

  it('groups boolean shorts and accepts explicit booleans', () => {
    const { flags } = parseArgs(specs, ['-dq']);
    expect(flags.bool('detach')).toBe(true);
    expect(flags.bool('quiet')).toBe(true);
    const off = parseArgs(specs, ['--detach=false', '-q=0']).flags;
    expect(off.bool('detach')).toBe(false);
    expect(off.has('detach')).toBe(true);
    expect(off.bool('quiet')).toBe(false);
  });

  it('lets a valued short flag end a group and take the next argument', () => {
    const { flags } = parseArgs(specs, ['-de', 'X=1']);
    expect(flags.bool('detach')).toBe(true);
    expect(flags.list('env')).toEqual(['X=1']);
  });

  it('reports absent flags as such', () => {
    const { flags } = parseArgs(specs, []);
    expect(flags.has('name')).toBe(false);
    expect(flags.string('name')).toBeUndefined();
    expect(flags.bool('detach')).toBe(false);
    expect(flags.list('env')).toEqual([]);
  });

  it('treats everything after -- as positional', () => {
    expect(parseArgs(specs, ['--', '--name', 'x']).args).toEqual(['--name', 'x']);
  });

  it('can stop at the first positional so that a container command keeps its own flags', () => {
    const { flags, args } = parseArgs(specs, ['-d', 'busybox', 'sh', '-c', 'echo hi', '--name', 'x'], { stopAtFirstPositional: true });
    expect(flags.bool('detach')).toBe(true);
    expect(flags.has('name')).toBe(false);
    expect(args).toEqual(['busybox', 'sh', '-c', 'echo hi', '--name', 'x']);
  });

  it('refuses unknown flags, missing values and bad booleans as usage errors', () => {
    expect(() => parseArgs(specs, ['--nope'])).toThrow(new UsageError('unknown flag: --nope'));
    expect(() => parseArgs(specs, ['-x'])).toThrow(new UsageError("unknown shorthand flag: 'x' in -x"));
    expect(() => parseArgs(specs, ['--name'])).toThrow(new UsageError('flag needs an argument: --name'));
    expect(() => parseArgs(specs, ['-e'])).toThrow(new UsageError('flag needs an argument: -e'));
    expect(() => parseArgs(specs, ['--detach=maybe'])).toThrow(/invalid value "maybe" for --detach/);
  });

  it('throws a programming error when code asks for an undeclared flag or the wrong kind', () => {
    const { flags } = parseArgs(specs, []);
    expect(() => flags.string('nmae')).toThrow('flag --nmae is not declared');
    expect(() => flags.string('detach')).toThrow('flag --detach is a bool flag, not string');
  });
});

describe('formatFlagHelp', () => {
  it('aligns the help text after the widest flag and shows value names', () => {
    expect(formatFlagHelp([...specs.slice(0, 1), { name: 'update-delay', kind: 'string', value: 'duration', help: 'Delay' }])).toBe(
      '  -d, --detach                  Detach\n' + '      --update-delay duration   Delay\n',
    );
  });
});
