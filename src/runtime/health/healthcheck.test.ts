import { describe, expect, it } from 'vitest';
import { formatDuration, probeArgv, resolveHealthCheck } from './healthcheck.js';
import { capOutput, MAX_OUTPUT_BYTES, timeoutResult } from './monitor.js';

describe('probeArgv', () => {
  it('runs CMD as given and CMD-SHELL with /bin/sh -c, joining its words as Docker does', () => {
    expect(probeArgv(['CMD', 'curl', '-f', 'http://localhost/'])).toEqual(['curl', '-f', 'http://localhost/']);
    expect(probeArgv(['CMD-SHELL', 'test -e /ready || exit 1'])).toEqual(['/bin/sh', '-c', 'test -e /ready || exit 1']);
    expect(probeArgv(['CMD-SHELL', 'echo', 'hi'])).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('has nothing to run for NONE or an empty test', () => {
    expect(probeArgv(['NONE'])).toBeUndefined();
    expect(probeArgv([])).toBeUndefined();
  });

  it('refuses an unknown type and a test without a command', () => {
    expect(() => probeArgv(['SHELL', 'true'])).toThrow('unknown test type "SHELL"');
    expect(() => probeArgv(['CMD'])).toThrow('CMD needs a program');
    expect(() => probeArgv(['CMD-SHELL'])).toThrow('CMD-SHELL needs a command');
  });
});

describe('resolveHealthCheck', () => {
  it('fills in Docker’s defaults for absent or zero settings', () => {
    const defaults = { argv: ['true'], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };
    expect(resolveHealthCheck({ test: ['CMD', 'true'] })).toEqual(defaults);
    expect(resolveHealthCheck({ test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 })).toEqual(
      defaults,
    );
    expect(resolveHealthCheck({ test: ['CMD', 'true'], intervalMs: 5, timeoutMs: 6, retries: 7, startPeriodMs: 8 })).toEqual({
      argv: ['true'],
      intervalMs: 5,
      timeoutMs: 6,
      retries: 7,
      startPeriodMs: 8,
    });
  });

  it('is undefined for NONE and refuses a negative setting', () => {
    expect(resolveHealthCheck({ test: ['NONE'] })).toBeUndefined();
    expect(() => resolveHealthCheck({ test: ['CMD', 'true'], retries: -1 })).toThrow('retries must be a non-negative number');
  });
});

describe('formatDuration', () => {
  it('prints durations as Go does', () => {
    expect([0, 250, 1000, 1500, 30_000, 90_000, 3_600_000, 3_723_500].map(formatDuration)).toEqual([
      '0s',
      '250ms',
      '1s',
      '1.5s',
      '30s',
      '1m30s',
      '1h0m0s',
      '1h2m3.5s',
    ]);
  });
});

describe('timeoutResult and capOutput', () => {
  it('words a timeout as Docker does', () => {
    expect(timeoutResult(30_000)).toEqual({ exitCode: -1, output: 'Health check exceeded timeout (30s)' });
  });

  it('keeps output up to 4 KiB whole and cuts longer output there with "..."', () => {
    const fits = 'a'.repeat(MAX_OUTPUT_BYTES);
    expect(capOutput(fits)).toBe(fits);
    expect(capOutput(`${fits}b`)).toBe(`${fits}...`);
  });

  it('never cuts a character in half', () => {
    // 4095 bytes, then "é" (2 bytes) straddling the limit.
    const text = `${'a'.repeat(MAX_OUTPUT_BYTES - 1)}é and more`;
    expect(capOutput(text)).toBe(`${'a'.repeat(MAX_OUTPUT_BYTES - 1)}...`);
  });
});
