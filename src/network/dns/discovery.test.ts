import { describe, expect, it } from 'vitest';
import { ServiceDiscovery, type DiscoveryService } from './discovery.js';

function discoveryOf(networks: [string, DiscoveryService[]][], containers: [string, string[]][]): ServiceDiscovery {
  return new ServiceDiscovery({ networks: new Map(networks), containers: new Map(containers) });
}

describe('ServiceDiscovery', () => {
  it('answers from the first of the container\'s networks that has addresses for the name', () => {
    const onA: DiscoveryService = { name: 'api', mode: 'vip', vip: '10.0.1.2/24', tasks: [] };
    const onB: DiscoveryService = { name: 'api', mode: 'vip', vip: '10.0.2.2/24', tasks: [] };
    const d = discoveryOf(
      [
        ['a', [onA]],
        ['b', [onB]],
      ],
      [
        ['ab', ['a', 'b']],
        ['ba', ['b', 'a']],
      ],
    );
    expect(d.lookup('ab', 'api')).toEqual({ kind: 'found', addresses: ['10.0.1.2'], vip: true });
    expect(d.lookup('ba', 'api')).toEqual({ kind: 'found', addresses: ['10.0.2.2'], vip: true });
  });

  it('merges what shares a name on one network, as Docker does', () => {
    const d = discoveryOf(
      [
        [
          'a',
          [
            { name: 'one', mode: 'dnsrr', tasks: [{ name: 'one.1.x', address: '10.0.1.5', aliases: ['shared'] }] },
            { name: 'two', mode: 'dnsrr', aliases: ['shared'], tasks: [{ name: 'two.1.y', address: '10.0.1.6' }] },
          ],
        ],
      ],
      [['c', ['a']]],
    );
    expect(d.lookup('c', 'shared')).toEqual({ kind: 'found', addresses: ['10.0.1.5', '10.0.1.6'], vip: false });
  });

  it('tells apart an unknown container, a name not of the cluster and a name on another network', () => {
    const d = discoveryOf(
      [
        ['a', [{ name: 'web', mode: 'vip', vip: '10.0.1.2', tasks: [] }]],
        ['b', []],
      ],
      [['c', ['b']]],
    );
    expect(d.lookup('x', 'web').kind).toBe('unknown-container');
    expect(d.lookup('c', 'example.com').kind).toBe('not-ours');
    expect(d.lookup('c', 'WEB.').kind).toBe('not-shared');
  });

  it('looks addresses up by the same rules: a task address gives its task name, a VIP its service\'s', () => {
    const d = discoveryOf(
      [
        ['a', [{ name: 'web', mode: 'vip', vip: '10.0.1.2/24', tasks: [{ name: 'web.1.t1', address: '10.0.1.5/24', aliases: ['one'] }] }]],
        ['b', [{ name: 'db', mode: 'dnsrr', tasks: [{ name: 'db.1.d1', address: '10.0.2.5' }] }]],
      ],
      [['c', ['a']]],
    );
    expect(d.lookupAddress('c', '10.0.1.5')).toEqual({ kind: 'found', name: 'web.1.t1', vip: false });
    expect(d.lookupAddress('c', '10.0.1.2')).toEqual({ kind: 'found', name: 'web', vip: true });
    expect(d.lookupAddress('c', '10.0.2.5').kind).toBe('not-shared');
    expect(d.lookupAddress('c', '192.0.2.1').kind).toBe('not-ours');
    expect(d.lookupAddress('x', '10.0.1.5').kind).toBe('unknown-container');
  });

  it('refuses an update with an address that is not IPv4, keeping the view it had', () => {
    const d = discoveryOf([['a', [{ name: 'web', mode: 'vip', vip: '10.0.1.2', tasks: [] }]]], [['c', ['a']]]);
    for (const bad of ['10.0.1', '10.0.1.256', 'fe80::1', '10.0.1.x/24']) {
      expect(() => d.update({ networks: new Map([['a', [{ name: 'web', mode: 'vip', vip: bad, tasks: [] }]]]), containers: new Map() })).toThrow(
        /not an IPv4 address/,
      );
    }
    expect(d.lookup('c', 'web')).toEqual({ kind: 'found', addresses: ['10.0.1.2'], vip: true });
  });
});
