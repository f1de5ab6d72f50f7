import { describe, expect, it } from 'vitest';
import { ipAddressBytes } from './ip-address.js';

describe('ipAddressBytes', () => {
  it('writes IPv4 as 4 bytes and IPv6, compressed or not, as 16', () => {
    expect(ipAddressBytes('192.168.0.10').toString('hex')).toBe('c0a8000a');
    expect(ipAddressBytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipAddressBytes('::').toString('hex')).toBe('0'.repeat(32));
    expect(ipAddressBytes('fe80::1:2').toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipAddressBytes('2001:db8:0:0:1:0:0:1').toString('hex')).toBe('20010db8000000000001000000000001');
    expect(ipAddressBytes('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(ipAddressBytes('1::').toString('hex')).toBe('0001' + '0'.repeat(28));
  });

  it('refuses names, zoned addresses and garbage', () => {
    for (const bad of ['localhost', 'fe80::1%eth0', '1.2.3', '300.1.1.1', '']) expect(() => ipAddressBytes(bad)).toThrow(/not an IP address/);
  });
});
