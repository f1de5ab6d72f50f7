import { describe, expect, it } from 'vitest';
import { signalNumber } from './signals.js';

describe('signalNumber', () => {
  it('takes names in any case, with or without SIG, and numbers from 1 to 64', () => {
    expect(signalNumber('TERM')).toBe(15);
    expect(signalNumber('sigusr1')).toBe(10);
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber(2)).toBe(2);
    expect(signalNumber('64')).toBe(64);
    expect(signalNumber('SIGRTMIN')).toBe(34);
    expect(signalNumber('RTMIN+3')).toBe(37);
    expect(signalNumber('SIGRTMAX-2')).toBe(62);
  });

  it('refuses what is no signal', () => {
    for (const bad of [0, 65, 1.5, '0', 'NOPE', 'RTMIN+31', 'RTMAX-31', '']) expect(signalNumber(bad)).toBeUndefined();
  });
});
