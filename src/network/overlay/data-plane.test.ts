import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayDataPlane, type OverlayNetworkConfig } from './data-plane.js';
import { bridgeJson, ip, ipJson, type BridgeFdbEntry, type IpAddrLink, type IpNeighbour } from './iproute.js';
import { endpointVethName } from './names.js';
import { listNetns } from './sandbox.js';
import { addNetns, linkNodes, pings, removeTagged, testTag } from './testing/namespaces.js';

// Two "nodes" (namespaces joined by a veth underlay of MTU 1400), each with its own data plane;
// "containers" are bare namespaces. Real kernel objects throughout, all named after the tag.
const tag = testTag();
const nodeA = `${tag}-node-a`;
const nodeB = `${tag}-node-b`;
const UNDERLAY_A = '192.168.213.1';
const UNDERLAY_B = '192.168.213.2';
const c = (name: string): string => `${tag}-c-${name}`;

const net1: OverlayNetworkConfig = { id: 'net1aaaaaaaaaaaaaaaaaaaaa', vni: 4101, subnet: '10.213.1.0/24', gateway: '10.213.1.1' };
const net2: OverlayNetworkConfig = { id: 'net2bbbbbbbbbbbbbbbbbbbbb', vni: 4102, subnet: '10.213.2.0/24', gateway: '10.213.2.1' };
// The same subnet as net1: its addresses may repeat net1's.
const net3: OverlayNetworkConfig = { id: 'net3ccccccccccccccccccccc', vni: 4103, subnet: '10.213.1.0/24', gateway: '10.213.1.1' };
const stale: OverlayNetworkConfig = { id: 'net4ddddddddddddddddddddd', vni: 4104, subnet: '10.213.4.0/24', gateway: '10.213.4.1' };

let planeA: OverlayDataPlane;
let planeB: OverlayDataPlane;
const sandboxA = (net: OverlayNetworkConfig): string => planeA.sandboxName(net.id);

function plane(node: 'a' | 'b'): OverlayDataPlane {
  return node === 'a'
    ? new OverlayDataPlane({ prefix: `${tag}a`, underlayAddress: UNDERLAY_A, underlayNetns: nodeA })
    : new OverlayDataPlane({ prefix: `${tag}b`, underlayAddress: UNDERLAY_B, underlayNetns: nodeB });
}

async function link(ns: string, ifname: string): Promise<IpAddrLink | undefined> {
  return (await ipJson<IpAddrLink>(ns, ['-d', 'addr', 'show'])).find((l) => l.ifname === ifname);
}

async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<IpAddrLink>(ns, ['link', 'show'])).map((l) => l.ifname).sort();
}

async function peerTables(sandbox: string): Promise<{ neigh: IpNeighbour[]; fdb: BridgeFdbEntry[] }> {
  const neigh = await ipJson<IpNeighbour>(sandbox, ['neigh', 'show', 'dev', 'vxlan0']);
  const fdb = (await bridgeJson<BridgeFdbEntry>(sandbox, ['fdb', 'show', 'dev', 'vxlan0'])).filter((e) => e.dst !== undefined);
  return { neigh, fdb };
}

/** Everything the data plane may change, without timers or counters: devices (with their ifindex, so a re-creation shows), addresses, routes, peer entries. */
async function snapshot(namespaces: string[]): Promise<string> {
  const parts: unknown[] = [];
  for (const ns of namespaces) {
    const links = (await ipJson<IpAddrLink & { ifindex: number }>(ns, ['addr', 'show'])).map((l) => ({
      ifindex: l.ifindex, ifname: l.ifname, mtu: l.mtu, address: l.address, flags: l.flags, master: l.master, ifalias: l.ifalias,
      addrs: l.addr_info?.map((a) => `${a.local}/${a.prefixlen}`),
    }));
    const routes = await ipJson(ns, ['route', 'show']);
    const peers = links.some((l) => l.ifname === 'vxlan0') ? await peerTables(ns) : undefined;
    parts.push({ ns, links, routes, peers });
  }
  return JSON.stringify(parts, null, 1);
}

beforeAll(async () => {
  for (const ns of [nodeA, nodeB, c('a1'), c('b1'), c('a2'), c('b2'), c('a3'), c('b3'), c('a4'), c('a5'), c('a6'), c('a7')]) await addNetns(ns);
  await linkNodes(nodeA, nodeB, { addressA: UNDERLAY_A, addressB: UNDERLAY_B, mtu: 1400 });
  planeA = plane('a');
  planeB = plane('b');
});

afterAll(async () => {
  await removeTagged(tag);
});

describe('OverlayDataPlane on two nodes', () => {
  it('builds one sandbox per network: br0 with the gateway, vxlan0 in it, MTU = underlay - 50 down to the container', async () => {
    await planeA.ensureNetwork(net1);
    await planeB.ensureNetwork(net1);
    await planeA.attach(net1.id, { containerNetns: `/run/netns/${c('a1')}`, ifname: 'eth0', address: '10.213.1.2', defaultRoute: true });
    await planeB.attach(net1.id, { containerNetns: c('b1'), ifname: 'eth0', address: '10.213.1.3', defaultRoute: true });

    const sandbox = sandboxA(net1);
    expect(sandbox).toBe(`${tag}a-net1aaaaaaaa`);
    expect(await listNetns()).toContain(sandbox);
    const vx = await link(sandbox, 'vxlan0');
    expect(vx?.linkinfo?.info_data).toMatchObject({ id: 4101, local: UNDERLAY_A, port: 4789, learning: false, proxy: true });
    expect(vx?.master).toBe('br0');
    const br = await link(sandbox, 'br0');
    expect(br?.addr_info?.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.213.1.1/24']);
    const eth0 = await link(c('a1'), 'eth0');
    expect(eth0?.address).toBe('02:42:0a:d5:01:02');
    expect(eth0?.addr_info?.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.213.1.2/24']);
    expect([vx?.mtu, br?.mtu, eth0?.mtu]).toEqual([1350, 1350, 1350]);
    expect(await ip(c('a1'), ['route', 'show', 'default'])).toContain('default via 10.213.1.1 dev eth0');
    // The vxlan device was created in the underlay namespace and left it for the sandbox.
    expect(await linkNames(nodeA)).toEqual(['lo', 'under0']);
    expect(await planeA.endpoints(net1.id)).toEqual([{ containerNetns: `/run/netns/${c('a1')}`, ifname: 'eth0', address: '10.213.1.2' }]);
  });

  it('reaches a container on the other node once peers are set, and not before nor after the peer is removed', async () => {
    expect(await pings(c('a1'), '10.213.1.3', 1)).toBe(false);
    await planeA.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }, { address: '10.213.1.2', underlay: UNDERLAY_A }]);
    await planeB.setPeers(net1.id, [{ address: '10.213.1.2', underlay: UNDERLAY_A }]);
    expect(await peerTables(sandboxA(net1))).toEqual({
      neigh: [{ dst: '10.213.1.3', lladdr: '02:42:0a:d5:01:03', state: ['PERMANENT'] }],
      fdb: [expect.objectContaining({ mac: '02:42:0a:d5:01:03', dst: UNDERLAY_B, flags: ['self'], state: 'permanent' })],
    });
    // The earlier failed attempt left an incomplete ARP entry, retried after a second.
    expect(await pings(c('a1'), '10.213.1.3', 3)).toBe(true);
    expect(await pings(c('b1'), '10.213.1.2', 3)).toBe(true);

    await planeA.setPeers(net1.id, []);
    expect(await peerTables(sandboxA(net1))).toEqual({ neigh: [], fdb: [] });
    expect(await pings(c('a1'), '10.213.1.3', 1)).toBe(false);
    await planeA.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }]);
    expect(await pings(c('a1'), '10.213.1.3', 3)).toBe(true);
  });

  it('isolates networks from each other, and the same addresses in two networks do not conflict', async () => {
    for (const net of [net2, net3]) {
      await planeA.ensureNetwork(net);
      await planeB.ensureNetwork(net);
    }
    const attach = (p: OverlayDataPlane, net: OverlayNetworkConfig, ns: string, address: string): Promise<void> =>
      p.attach(net.id, { containerNetns: c(ns), ifname: 'eth0', address, defaultRoute: true });
    await attach(planeA, net2, 'a2', '10.213.2.2');
    await attach(planeB, net2, 'b2', '10.213.2.3');
    await attach(planeA, net3, 'a3', '10.213.1.2');
    await attach(planeB, net3, 'b3', '10.213.1.3');
    // A container on two networks: the second interface gets no default route.
    await planeA.attach(net2.id, { containerNetns: c('a4'), ifname: 'eth1', address: '10.213.2.4', defaultRoute: false });
    for (const net of [net2, net3]) {
      await planeA.setPeers(net.id, [{ address: net.subnet.startsWith('10.213.2.') ? '10.213.2.3' : '10.213.1.3', underlay: UNDERLAY_B }]);
      await planeB.setPeers(net.id, [{ address: net.subnet.startsWith('10.213.2.') ? '10.213.2.2' : '10.213.1.2', underlay: UNDERLAY_A }]);
    }
    expect(await ip(c('a4'), ['route', 'show'])).toBe('10.213.2.0/24 dev eth1 proto kernel scope link src 10.213.2.4 \n');

    expect(await pings(c('a2'), '10.213.2.3', 3)).toBe(true);
    expect(await pings(c('a4'), '10.213.2.2', 3)).toBe(true);
    expect(await pings(c('a3'), '10.213.1.3', 3)).toBe(true);
    expect(await pings(c('a1'), '10.213.1.3', 3)).toBe(true);
    // Across networks, even with a default route via a gateway, and on one node as across two.
    expect(await pings(c('a1'), '10.213.2.3', 1)).toBe(false);
    expect(await pings(c('a2'), '10.213.1.2', 1)).toBe(false);

    // 10.213.1.3 answers in net3 from b3 alone once b1 has left net1.
    await planeB.detach(net1.id, { containerNetns: c('b1'), ifname: 'eth0' });
    expect(await link(c('b1'), 'eth0')).toBeUndefined();
    expect(await pings(c('a1'), '10.213.1.3', 1)).toBe(false);
    expect(await pings(c('a3'), '10.213.1.3', 3)).toBe(true);
    await planeB.attach(net1.id, { containerNetns: c('b1'), ifname: 'eth0', address: '10.213.1.3', defaultRoute: true });
  });

  it('changes nothing when ensure, attach and setPeers are repeated, and repairs a half-built sandbox', async () => {
    const watched = [nodeA, sandboxA(net1), sandboxA(net2), c('a1'), c('a4')];
    const before = await snapshot(watched);
    await planeA.ensureNetwork(net1);
    await planeA.ensureNetwork(net2);
    await planeA.attach(net1.id, { containerNetns: `/run/netns/${c('a1')}`, ifname: 'eth0', address: '10.213.1.2', defaultRoute: true });
    await planeA.attach(net2.id, { containerNetns: c('a4'), ifname: 'eth1', address: '10.213.2.4', defaultRoute: false });
    await planeA.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }]);
    await Promise.all([planeA.ensureNetwork(net2), planeA.ensureNetwork(net2), planeA.setPeers(net2.id, [{ address: '10.213.2.3', underlay: UNDERLAY_B }])]);
    expect(await snapshot(watched)).toBe(before);

    // A crash that left the sandbox without its vxlan device and br0 down.
    await ip(sandboxA(net1), ['link', 'del', 'vxlan0']);
    await ip(sandboxA(net1), ['link', 'set', 'br0', 'down']);
    await planeA.ensureNetwork(net1);
    await planeA.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }]);
    expect((await link(sandboxA(net1), 'vxlan0'))?.master).toBe('br0');
    expect(await pings(c('a1'), '10.213.1.3', 3)).toBe(true);
  });

  it('attaches and detaches many containers of one network at once, replacing what a crashed attach left', async () => {
    // A crash after the pair was created, before it was finished: no address, not on br0, no alias.
    await ip(c('a5'), ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', endpointVethName('10.213.1.5'), 'netns', sandboxA(net1)]);
    const mine = ['a5', 'a6', 'a7'].map((ns, i) => ({ containerNetns: c(ns), ifname: 'eth0', address: `10.213.1.${5 + i}` }));
    await Promise.all(mine.map((e) => planeA.attach(net1.id, { ...e, defaultRoute: true })));
    const endpoints = await planeA.endpoints(net1.id);
    const byAddress = (x: { address: string }, y: { address: string }): number => x.address.localeCompare(y.address);
    expect(endpoints.filter((e) => mine.some((m) => m.containerNetns === e.containerNetns)).sort(byAddress)).toEqual(mine);
    expect((await link(c('a5'), 'eth0'))?.addr_info?.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.213.1.5/24');
    expect(await pings(c('a5'), '10.213.1.7', 3)).toBe(true);

    await Promise.all(mine.map((e) => planeA.detach(net1.id, e)));
    expect(await planeA.endpoints(net1.id)).toEqual(endpoints.filter((e) => !mine.some((m) => m.containerNetns === e.containerNetns)));
    for (const e of mine) expect(await linkNames(e.containerNetns)).toEqual(['lo']);
  });

  it('after a restart, finds its networks and endpoints, removes stale networks and stale peers', async () => {
    await planeA.ensureNetwork(stale);
    await planeA.attach(stale.id, { containerNetns: c('a4'), ifname: 'eth0', address: '10.213.4.2', defaultRoute: true });
    await planeA.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }, { address: '10.213.1.9', underlay: UNDERLAY_B }]);
    await addNetns(`${tag}a-half00000000`); // a sandbox whose creation stopped at its namespace

    const restarted = plane('a');
    expect((await restarted.networks()).sort()).toEqual([net1.id, net2.id, net3.id, stale.id]);
    expect(await restarted.endpoints(net2.id)).toEqual([
      { containerNetns: c('a2'), ifname: 'eth0', address: '10.213.2.2' },
      { containerNetns: c('a4'), ifname: 'eth1', address: '10.213.2.4' },
    ]);
    expect((await restarted.reconcileNetworks([net1.id, net2.id, net3.id])).sort()).toEqual([`${tag}a-half00000000`, restarted.sandboxName(stale.id)]);
    expect((await restarted.networks()).sort()).toEqual([net1.id, net2.id, net3.id]);
    expect(await linkNames(c('a4'))).toEqual(['eth1', 'lo']);

    await restarted.setPeers(net1.id, [{ address: '10.213.1.3', underlay: UNDERLAY_B }]);
    expect((await peerTables(sandboxA(net1))).neigh.map((n) => n.dst)).toEqual(['10.213.1.3']);
    expect((await peerTables(sandboxA(net1))).fdb.map((e) => e.mac)).toEqual(['02:42:0a:d5:01:03']);
    expect(await pings(c('a1'), '10.213.1.3', 3)).toBe(true);
  });

  it('leaves nothing behind after detach and remove, and a VNI can be used again at once', async () => {
    await planeA.detach(net1.id, { containerNetns: `/run/netns/${c('a1')}`, ifname: 'eth0' });
    await planeA.detach(net1.id, { containerNetns: `/run/netns/${c('a1')}`, ifname: 'eth0' });
    expect(await linkNames(c('a1'))).toEqual(['lo']);
    expect(await planeA.endpoints(net1.id)).toEqual([]);

    await planeA.removeNetwork(net1.id);
    await planeA.ensureNetwork(net1);
    for (const p of [planeA, planeB]) {
      for (const net of [net1, net2, net3]) await p.removeNetwork(net.id);
      await p.removeNetwork(net1.id);
      expect(await p.networks()).toEqual([]);
    }
    expect((await listNetns()).filter((n) => n.startsWith(`${tag}a-`) || n.startsWith(`${tag}b-`))).toEqual([]);
    expect(await linkNames(nodeA)).toEqual(['lo', 'under0']);
    expect(await linkNames(nodeB)).toEqual(['lo', 'under0']);
    for (const ns of ['a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'a4']) expect(await linkNames(c(ns))).toEqual(['lo']);
    await expect(planeA.setPeers(net1.id, [])).rejects.toThrow(/ensure it first/);
  });
});
