import { describe, expect, it } from 'vitest';
import { splitShellWords } from './shellwords.js';
import { ago, formatBytes, formatCpus, formatDuration, humanDuration, parseCpus, parseDuration, parseMemory } from './units.js';

describe('durations', () => {
  it('parses Go durations to milliseconds', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('2500us')).toBe(3);
  });

  it('refuses numbers without units and anything else', () => {
    for (const bad of ['10', '', 's', '1x', '-1s', '1s ', 'ten seconds']) {
      expect(() => parseDuration(bad), bad).toThrow(/invalid duration/);
    }
  });

  it('formats milliseconds as Go prints durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(10_000)).toBe('10s');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(3_600_000)).toBe('1h0m0s');
  });
});

describe('memory', () => {
  it('parses docker sizes with binary multiples', () => {
    expect(parseMemory('512m')).toBe(512 * 1024 ** 2);
    expect(parseMemory('1g')).toBe(1024 ** 3);
    expect(parseMemory('1GiB')).toBe(1024 ** 3);
    expect(parseMemory('64MB')).toBe(64 * 1024 ** 2);
    expect(parseMemory('1.5k')).toBe(1536);
    expect(parseMemory('4096')).toBe(4096);
    expect(parseMemory('100b')).toBe(100);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'm', '1x', '-1m', '1 mega']) expect(() => parseMemory(bad), bad).toThrow(/invalid size/);
  });

  it('formats bytes as docker shows them', () => {
    expect(formatBytes(512 * 1024 ** 2)).toBe('512MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5GiB');
    expect(formatBytes(100)).toBe('100B');
  });
});

describe('cpus', () => {
  it('parses decimal CPU counts exactly into nano-CPUs', () => {
    expect(parseCpus('0.5')).toBe(500_000_000);
    expect(parseCpus('2')).toBe(2_000_000_000);
    expect(parseCpus('.25')).toBe(250_000_000);
    expect(parseCpus('0.1')).toBe(100_000_000);
    expect(parseCpus('0.000000001')).toBe(1);
    expect(parseCpus('1.5000000000')).toBe(1_500_000_000);
  });

  it('refuses non-numbers and more than nine decimals', () => {
    expect(() => parseCpus('')).toThrow(/invalid CPU count/);
    expect(() => parseCpus('.')).toThrow(/invalid CPU count/);
    expect(() => parseCpus('half')).toThrow(/invalid CPU count/);
    expect(() => parseCpus('-1')).toThrow(/invalid CPU count/);
    expect(() => parseCpus('0.0000000001')).toThrow(/more precise/);
  });

  it('formats nano-CPUs as a decimal count', () => {
    expect(formatCpus(500_000_000)).toBe('0.5');
    expect(formatCpus(2_000_000_000)).toBe('2');
    expect(formatCpus(1_250_000_000)).toBe('1.25');
  });
});

describe('relative ages', () => {
  it('reads like docker', () => {
    expect(humanDuration(400)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(42_000)).toBe('42 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(65 * 60_000)).toBe('About an hour');
    expect(humanDuration(5 * 3_600_000)).toBe('5 hours');
    expect(humanDuration(3 * 24 * 3_600_000)).toBe('3 days');
    expect(humanDuration(21 * 24 * 3_600_000)).toBe('3 weeks');
    expect(humanDuration(90 * 24 * 3_600_000)).toBe('3 months');
    expect(humanDuration(3 * 365 * 24 * 3_600_000)).toBe('3 years');
  });

  it('says "ago", and nothing for an unset timestamp', () => {
    expect(ago(1_000, 121_000)).toBe('2 minutes ago');
    expect(ago(0, 121_000)).toBe('');
    expect(ago(5_000, 1_000)).toBe('Less than a second ago');
  });
});

describe('splitShellWords', () => {
  it('splits on whitespace and honours quotes and escapes', () => {
    expect(splitShellWords(`sh -c 'echo "hi there"'`)).toEqual(['sh', '-c', 'echo "hi there"']);
    expect(splitShellWords(`echo "a \\"b\\" c" d\\ e ''`)).toEqual(['echo', 'a "b" c', 'd e', '']);
    expect(splitShellWords('  a   b  ')).toEqual(['a', 'b']);
    expect(splitShellWords('')).toEqual([]);
    expect(splitShellWords('echo $HOME')).toEqual(['echo', '$HOME']);
  });

  it('refuses an unterminated quote', () => {
    expect(() => splitShellWords(`echo 'oops`)).toThrow(/unterminated single quote/);
    expect(() => splitShellWords(`echo "oops`)).toThrow(/unterminated double quote/);
  });
});
