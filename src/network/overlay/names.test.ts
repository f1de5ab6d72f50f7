import { describe, expect, it } from 'vitest';
import {
  addressOfVethName,
  checkIfname,
  checkNetworkId,
  checkPrefix,
  endpointAlias,
  endpointVethName,
  isSandboxName,
  macForAddress,
  parseEndpointAlias,
  sandboxName,
  stagingVxlanName,
} from './names.js';

describe('overlay names', () => {
  it('names a sandbox after the prefix and the first 12 characters of the network id', () => {
    expect(sandboxName('shoal-3f9a', 'k2j4h5g6f7d8s9a0q1w2e3r4t')).toBe('shoal-3f9a-k2j4h5g6f7d8');
    expect(isSandboxName('shoal-3f9a', 'shoal-3f9a-k2j4h5g6f7d8')).toBe(true);
    expect(isSandboxName('shoal-3f9a', 'shoal-3f9a-short')).toBe(true);
  });

  it("does not take another prefix's sandboxes for its own", () => {
    expect(isSandboxName('shoal-a', 'shoal-ab-k2j4h5g6f7d8')).toBe(false);
    expect(isSandboxName('shoal-a', 'shoal-a-x-k2j4h5g6f7d8')).toBe(false);
    expect(isSandboxName('shoal-a', 'shoal-a-')).toBe(false);
    expect(isSandboxName('shoal-a', 'shoal-a-k2j4h5g6f7d8x')).toBe(false);
  });

  it("derives an endpoint's MAC and sandbox-side veth name from its address, and the address back", () => {
    expect(macForAddress('10.0.1.5')).toBe('02:42:0a:00:01:05');
    expect(macForAddress('192.168.255.254')).toBe('02:42:c0:a8:ff:fe');
    expect(endpointVethName('10.0.1.5')).toBe('ve0a000105');
    expect(addressOfVethName('ve0a000105')).toBe('10.0.1.5');
    expect(addressOfVethName('vxlan0')).toBeUndefined();
    expect(() => macForAddress('10.0.1')).toThrow(/invalid IPv4 address/);
  });

  it("records an endpoint's container interface in an alias and reads it back", () => {
    const key = { ifname: 'eth1', containerNetns: '/proc/4242/ns/net' };
    expect(endpointAlias(key)).toBe('ep:eth1:/proc/4242/ns/net');
    expect(parseEndpointAlias(endpointAlias(key))).toEqual(key);
    expect(parseEndpointAlias('ep:eth0:a:b')).toEqual({ ifname: 'eth0', containerNetns: 'a:b' });
    expect(parseEndpointAlias('net1aaaaaaaa')).toBeUndefined();
    expect(parseEndpointAlias(undefined)).toBeUndefined();
  });

  it('gives the staging vxlan a name per VNI that fits the 15-character limit', () => {
    expect(stagingVxlanName(4096)).toBe('shvx-1000');
    expect(stagingVxlanName(2 ** 24 - 1).length).toBeLessThanOrEqual(15);
  });

  it('refuses names that would be ambiguous or read as options', () => {
    expect(() => checkPrefix('-n')).toThrow(/invalid sandbox prefix/);
    expect(() => checkPrefix('a b')).toThrow(/invalid sandbox prefix/);
    expect(() => checkNetworkId('net-1')).toThrow(/invalid network id/);
    expect(() => checkIfname('eth0:1')).toThrow(/invalid interface name/);
    expect(() => checkIfname('averyveryverylongname')).toThrow(/invalid interface name/);
    expect(() => checkIfname('eth1')).not.toThrow();
  });
});
