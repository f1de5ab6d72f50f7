import { describe, expect, it } from 'vitest';
import { hostOf, isHostPort } from './host-port.js';

describe('host:port addresses', () => {
  it('checks the form and the port range', () => {
    expect(isHostPort('127.0.0.1:4242')).toBe(true);
    expect(isHostPort('[::1]:1')).toBe(true);
    expect(isHostPort('m1.local:65535')).toBe(true);
    expect(isHostPort('127.0.0.1:0')).toBe(false);
    expect(isHostPort('127.0.0.1:0', 0)).toBe(true);
    for (const bad of ['', '4242', ':4242', 'host:', 'host:65536', 'host:x', 'host:1.5']) expect(isHostPort(bad)).toBe(false);
  });

  it('takes the host out of an address', () => {
    expect(hostOf('127.0.0.1:50312')).toBe('127.0.0.1');
    expect(hostOf('[::1]:50312')).toBe('::1');
    expect(hostOf('m1.local:4242')).toBe('m1.local');
    expect(hostOf('unix:/run/x.sock')).toBe('unix:/run/x.sock');
  });
});
