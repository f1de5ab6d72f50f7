import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress, parseSubnet } from '../../common/ipv4.js';
import { NetworkAddresses } from './network-addresses.js';
import { RangeAllocator } from './range-allocator.js';
import { SubnetPool } from './subnet-pool.js';

describe('ipv4', () => {
  it('reads and writes addresses and subnets', () => {
    expect(formatAddress(parseAddress('10.255.3.4'))).toBe('10.255.3.4');
    expect(parseSubnet('10.0.9.0/24')).toEqual({ base: parseAddress('10.0.9.0'), prefixLength: 24 });
  });

  it('refuses malformed input with one line saying what is wrong', () => {
    expect(() => parseAddress('10.0.0.256')).toThrow('invalid IPv4 address "10.0.0.256"');
    expect(() => parseAddress('10.0.0.01')).toThrow('invalid IPv4 address');
    expect(() => parseSubnet('10.0.9.0')).toThrow('use CIDR notation');
    expect(() => parseSubnet('10.0.9.5/24')).toThrow('host bits are set (did you mean 10.0.9.0/24?)');
    expect(() => parseSubnet('10.0.9.0/31')).toThrow('leaves no room');
  });
});

describe('RangeAllocator', () => {
  it('hands out values next-fit, so a released one is reused last', () => {
    const r = new RangeAllocator(1, 3);
    expect([r.allocate(), r.allocate()]).toEqual([1, 2]);
    r.release(1);
    expect(r.allocate()).toBe(3);
    expect(r.allocate()).toBe(1);
    expect(r.allocate()).toBeUndefined();
  });

  it('reserves specific values once, and skips them when allocating', () => {
    const r = new RangeAllocator(30000, 30002);
    expect(r.reserve(30000)).toBe(true);
    expect(r.reserve(30000)).toBe(false);
    expect(r.reserve(29999)).toBe(false);
    expect(r.allocate()).toBe(30001);
  });
});

describe('NetworkAddresses', () => {
  it('keeps the network, gateway and broadcast addresses out of what it hands out', () => {
    const a = new NetworkAddresses('10.0.5.0/30');
    expect(a.gateway).toBe('10.0.5.1');
    expect(a.allocate()).toBe('10.0.5.2');
    expect(a.allocate()).toBeUndefined();
    a.release('10.0.5.2');
    expect(a.reserve('10.0.5.2')).toBe(true);
    expect(() => a.reserve('10.0.6.2')).toThrow('10.0.6.2 is not in 10.0.5.0/30');
  });
});

describe('SubnetPool', () => {
  it('hands out /24s of 10.0.0.0/8 in order, around the subnets already taken', () => {
    const pool = new SubnetPool();
    pool.reserve('10.0.1.0/24');
    pool.reserve('10.0.4.0/22');
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual(['10.0.0.0/24', '10.0.2.0/24', '10.0.3.0/24']);
    expect(pool.allocate()).toBe('10.0.8.0/24');
    pool.release('10.0.2.0/24');
    expect(pool.allocate()).toBe('10.0.2.0/24');
  });

  it('refuses a subnet that overlaps one in use, naming it', () => {
    const pool = new SubnetPool();
    pool.reserve('10.0.0.0/16');
    expect(() => pool.reserve('10.0.3.0/24')).toThrow('subnet 10.0.3.0/24 overlaps 10.0.0.0/16, which is in use');
  });

  it('says when the pool is exhausted', () => {
    const pool = new SubnetPool('192.168.0.0/23', 24);
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual(['192.168.0.0/24', '192.168.1.0/24', undefined]);
  });
});
