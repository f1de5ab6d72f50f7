import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipBatch, ip } from '../overlay/iproute.js';
import { addNetns, removeTagged } from '../overlay/testing/namespaces.js';
import { applyTable, listTables, nft, removeStaleTables } from './nft.js';
import { connect, lbTestTag, namesReached, startNameServer, stopServers } from './testing/tcp.js';
import { programVips, removeVips, VIP_TABLE } from './vip.js';

// A "client" namespace and three "backend" namespaces on one bridge (in a namespace of its own),
// each backend answering TCP port 80 with its name. Everything is named after the tag.
const tag = lbTestTag();
const ns = (name: string): string => `${tag}-${name}`;
const client = ns('client');
const BACKENDS = { b1: '10.214.0.11', b2: '10.214.0.12', b3: '10.214.0.13' };
const VIP = '10.214.0.100';
const EMPTY_VIP = '10.214.0.101';

function counts(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** The table with its handles: a rewrite, even of identical rules, gives new ones. */
function listWithHandles(netns: string): Promise<string> {
  return nft(netns, ['-a', 'list', 'table', 'ip', VIP_TABLE]);
}

beforeAll(async () => {
  await addNetns(ns('switch'));
  await ipBatch(ns('switch'), ['link add br0 type bridge', 'link set br0 up']);
  const hosts: [string, string][] = [['client', '10.214.0.2'], ...Object.entries(BACKENDS)];
  for (const [name, address] of hosts) {
    await addNetns(ns(name));
    await ip(ns('switch'), ['link', 'add', `v-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(name)]);
    await ipBatch(ns('switch'), [`link set v-${name} master br0`, `link set v-${name} up`]);
    await ipBatch(ns(name), [`addr add ${address}/24 dev eth0`, 'link set eth0 up']);
  }
  for (const name of Object.keys(BACKENDS)) await startNameServer(ns(name), 80, name);
});

afterAll(async () => {
  await stopServers();
  await removeTagged(tag);
});

describe('VIP load balancing in a container namespace', () => {
  it('balances new connections to the VIP over every backend in turn, and refuses a VIP without backends', async () => {
    expect(await programVips(client, [{ vip: VIP, backends: [BACKENDS.b3, BACKENDS.b1, BACKENDS.b2] }, { vip: EMPTY_VIP, backends: [] }])).toBe(true);
    expect(counts(await namesReached(client, VIP, 80, 6))).toEqual({ b1: 2, b2: 2, b3: 2 });
    expect(await connect(client, EMPTY_VIP, 80)).toEqual({ error: expect.stringMatching(/Connection refused/) });
  });

  it('never reaches a backend removed by an update', async () => {
    await programVips(client, [{ vip: VIP, backends: [BACKENDS.b1, BACKENDS.b3] }]);
    expect(counts(await namesReached(client, VIP, 80, 6))).toEqual({ b1: 3, b3: 3 });
  });

  it('refuses connections to a VIP whose last backend went, rather than losing them', async () => {
    await programVips(client, [{ vip: VIP, backends: [] }]);
    // A lost SYN would end in "timed out" after nc's two seconds; the reset comes from the rules.
    expect(await connect(client, VIP, 80)).toEqual({ error: expect.stringMatching(/Connection refused/) });
    expect(await connect(client, VIP, 443)).toEqual({ error: expect.stringMatching(/Connection refused/) });
  });

  it('changes nothing when the same state is programmed again, in any order, by name or by path', async () => {
    const state = [
      { vip: VIP, backends: [BACKENDS.b1, BACKENDS.b2] },
      { vip: EMPTY_VIP, backends: [] },
    ];
    await programVips(client, state);
    const before = await listWithHandles(client);
    expect(await programVips(client, state)).toBe(false);
    expect(await programVips(`/run/netns/${client}`, [...state].reverse().map((s) => ({ ...s, backends: [...s.backends].reverse() })))).toBe(false);
    expect(await listWithHandles(client)).toBe(before);
    expect(counts(await namesReached(client, VIP, 80, 2))).toEqual({ b1: 1, b2: 1 });
  });

  it('removes its table and stale shoal tables, leaving other tables alone', async () => {
    await applyTable(client, { name: 'shoal_old', body: '\tchain c { }\n' });
    await nft(client, ['add', 'table', 'ip', 'someone_else']);
    expect((await listTables(client)).sort()).toEqual([VIP_TABLE, 'shoal_old']);
    expect(await removeStaleTables(client, [VIP_TABLE])).toEqual(['shoal_old']);
    expect(await listTables(client)).toEqual([VIP_TABLE]);

    await removeVips(client);
    await removeVips(client);
    expect(await listTables(client)).toEqual([]);
    expect(await nft(client, ['list', 'tables'])).toBe('table ip someone_else\n');
    // Without the table the VIP is nobody's address again: nothing answers it.
    expect(await connect(client, VIP, 80)).not.toHaveProperty('name');
  });
});
