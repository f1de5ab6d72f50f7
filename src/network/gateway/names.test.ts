import { describe, expect, it } from 'vitest';
import { parseSubnet } from '../../common/ipv4.js';
import {
  addressOfVeth,
  attachmentAlias,
  checkBridgeName,
  checkKey,
  gatewaySubnet,
  lowestFree,
  parseAttachmentAlias,
  vethName,
} from './names.js';
import { renderGatewayTable } from './rules.js';

describe('gateway names', () => {
  it("names an attachment's veth after its address, and reads the address back", () => {
    expect(vethName('172.30.0.2')).toBe('gwac1e0002');
    expect(addressOfVeth('gwac1e0002')).toBe('172.30.0.2');
    expect(addressOfVeth('gwac1e00')).toBeUndefined();
    expect(addressOfVeth('veac1e0002')).toBeUndefined();
  });

  it('records the key, interface and namespace in the alias and parses them back', () => {
    const a = { key: 'task.1-x', ifname: 'eth1', containerNetns: '/proc/42/ns/net' };
    expect(attachmentAlias(a)).toBe('gw:task.1-x:eth1:/proc/42/ns/net');
    expect(parseAttachmentAlias(attachmentAlias(a))).toEqual(a);
    expect(parseAttachmentAlias(undefined)).toBeUndefined();
    expect(parseAttachmentAlias('ep:eth0:/proc/42/ns/net')).toBeUndefined();
    expect(() => attachmentAlias({ ...a, containerNetns: `/${'n'.repeat(260)}` })).toThrow(/too long/);
  });

  it('refuses keys that would break the alias and bridge names a veth could take', () => {
    expect(() => checkKey('a:b')).toThrow(/invalid gateway key/);
    expect(() => checkKey('')).toThrow(/invalid gateway key/);
    expect(() => checkKey('-x')).toThrow(/invalid gateway key/);
    checkKey('3f9a.task_1');
    expect(() => checkBridgeName('gwac1e0002')).toThrow(/names an attachment's veth/);
    expect(() => checkBridgeName('a_bridge_name_too_long')).toThrow(/invalid interface name/);
    checkBridgeName('shoal_gw');
  });

  it('takes the first host address as the gateway and wants at least a /29', () => {
    expect(gatewaySubnet('172.30.0.0/16').gateway).toBe('172.30.0.1');
    expect(gatewaySubnet('10.1.2.8/29').gateway).toBe('10.1.2.9');
    expect(() => gatewaySubnet('10.1.2.8/30')).toThrow(/at least a \/29/);
    expect(() => gatewaySubnet('10.1.2.9/29')).toThrow(/host bits are set/);
  });

  it('hands out the lowest free host address, never the gateway or broadcast', () => {
    const subnet = parseSubnet('10.1.2.8/29');
    expect(lowestFree(subnet, new Set())).toBe('10.1.2.10');
    expect(lowestFree(subnet, new Set(['10.1.2.10', '10.1.2.12']))).toBe('10.1.2.11');
    expect(lowestFree(subnet, new Set(['10.1.2.10', '10.1.2.11', '10.1.2.12', '10.1.2.13']))).toBe('10.1.2.14');
    expect(lowestFree(subnet, new Set(['10.1.2.10', '10.1.2.11', '10.1.2.12', '10.1.2.13', '10.1.2.14']))).toBeUndefined();
  });
});

describe('gateway table', () => {
  it('masquerades what leaves the subnet by another interface and forwards nothing from the bridge back onto it', () => {
    const { body, name } = renderGatewayTable('shoal_gw', parseSubnet('172.30.0.0/16'));
    expect(name).toBe('shoal_gateway');
    expect(body).toBe(
      [
        '\tchain forward {',
        '\t\ttype filter hook forward priority 0; policy accept;',
        '\t\tiifname "shoal_gw" oifname "shoal_gw" drop',
        '\t}',
        '\tchain postrouting {',
        '\t\ttype nat hook postrouting priority 100; policy accept;',
        '\t\tip saddr 172.30.0.0/16 oifname != "shoal_gw" masquerade',
        '\t}',
        '',
      ].join('\n'),
    );
  });
});
