import { describe, expect, it } from 'vitest';
import { renderShimConfig } from './config.js';
import { streamText, type LogEntry } from './logs.js';

const files = { log: '/s/log', exit: '/s/exit', pid: '/s/pid' };

describe('renderShimConfig', () => {
  it('writes one key=value per line, lists as repeated keys, optional keys only when set', () => {
    const text = renderShimConfig(
      { rootfs: '/r', args: ['sh', '-c', 'echo a=b'], env: ['PATH=/bin', 'X=1=2'], groups: [1, 2], uid: 0, stopSignal: 2 },
      files,
    );
    expect(text).toBe(
      [
        'rootfs=/r',
        'uid=0',
        'group=1',
        'group=2',
        'env=PATH=/bin',
        'env=X=1=2',
        'arg=sh',
        'arg=-c',
        'arg=echo a=b',
        'stop_signal=2',
        'log=/s/log',
        'exit=/s/exit',
        'pid=/s/pid',
        '',
      ].join('\n'),
    );
  });

  it('refuses what the line format cannot carry or the shim would reject', () => {
    expect(() => renderShimConfig({ rootfs: '/r', args: ['echo', 'a\nb'] }, files)).toThrow(/newline/);
    expect(() => renderShimConfig({ rootfs: '/r', args: ['x\0'] }, files)).toThrow(/NUL/);
    expect(() => renderShimConfig({ rootfs: 'r', args: ['x'] }, files)).toThrow(/absolute/);
    expect(() => renderShimConfig({ rootfs: '/r', args: [] }, files)).toThrow(/program/);
    expect(() => renderShimConfig({ rootfs: '/r', args: ['x'], env: ['NOVALUE'] }, files)).toThrow(/'='/);
    expect(() => renderShimConfig({ rootfs: '/r', args: ['x'], cwd: 'srv' }, files)).toThrow(/cwd/);
  });
});

describe('streamText', () => {
  it('joins the entries of one stream, so a long line split by the shim reads whole', () => {
    const entries: LogEntry[] = [
      { time: 't', stream: 'stdout', log: 'long ' },
      { time: 't', stream: 'stderr', log: 'err\n' },
      { time: 't', stream: 'stdout', log: 'line\n' },
    ];
    expect(streamText(entries, 'stdout')).toBe('long line\n');
    expect(streamText(entries, 'stderr')).toBe('err\n');
  });
});
