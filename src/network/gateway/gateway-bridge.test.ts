import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../overlay/command.js';
import { bridgeJson, ip, ipJson, type IpAddrLink } from '../overlay/iproute.js';
import { addNetns, linkNodes, pings, removeTagged } from '../overlay/testing/namespaces.js';
import { RoutingMesh } from '../lb/ingress.js';
import { inNamespace } from '../lb/namespace.js';
import { listTables, nft, removeTable } from '../lb/nft.js';
import { connect, startNameServer, stopServers } from '../lb/testing/tcp.js';
import { GatewayBridge } from './gateway-bridge.js';
import { vethName } from './names.js';

// A "node" namespace holding the gateway bridge, an "outside" namespace joined to it by a veth (a
// client on the node's network, with no route to the gateway's subnet), and bare namespaces as
// containers. Nothing is sent from or to the namespace the test runs in.
const tag = `gwt${randomBytes(3).toString('hex')}`;
const node = `${tag}-node`;
const outside = `${tag}-outside`;
const [c1, c2, c3] = [`${tag}-c1`, `${tag}-c2`, `${tag}-c3`];
const NODE_ADDRESS = '192.168.217.1';
const OUTSIDE_ADDRESS = '192.168.217.2';
const SUBNET = '10.217.0.0/29';
const GATEWAY = '10.217.0.1';

const options = { nodeNetns: node, subnet: SUBNET };
let gw: GatewayBridge;

interface Link extends IpAddrLink {
  ifindex: number;
}

/** Everything the gateway owns in the node's namespace, as text: devices with their ifindex, flags, master, alias and addresses, and the table. */
async function nodeState(): Promise<string> {
  const links = await ipJson<Link>(node, ['-d', 'addr', 'show']);
  const ports = await bridgeJson<{ ifname: string; isolated?: boolean }>(node, ['-d', 'link', 'show']);
  const table = await nft(node, ['list', 'table', 'ip', 'shoal_gateway']);
  return JSON.stringify({
    links: links.map((l) => [l.ifindex, l.ifname, l.flags, l.master, l.ifalias, l.addr_info?.map((a) => `${a.local}/${a.prefixlen}`)]),
    ports: ports.map((p) => [p.ifname, p.isolated]),
    table,
  });
}

async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<Link>(ns, ['link', 'show'])).map((l) => l.ifname);
}

async function addresses(ns: string, ifname: string): Promise<string[]> {
  const [link] = await ipJson<IpAddrLink>(ns, ['addr', 'show', 'dev', ifname]);
  return (link?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

/** The bridge's ports: each veth of the gateway, its master and whether it is isolated. */
async function ports(): Promise<{ ifname: string; master?: string; isolated?: boolean }[]> {
  const all = await bridgeJson<{ ifname: string; master?: string; isolated?: boolean }>(node, ['-d', 'link', 'show']);
  return all.sort((a, b) => a.ifname.localeCompare(b.ifname));
}

beforeAll(async () => {
  for (const ns of [node, outside, c1, c2, c3]) await addNetns(ns);
  await linkNodes(node, outside, { addressA: NODE_ADDRESS, addressB: OUTSIDE_ADDRESS, mtu: 1500 });
  gw = new GatewayBridge(options);
});

afterAll(async () => {
  await stopServers();
  await removeTagged(tag);
});

describe('GatewayBridge', () => {
  it('refuses bad input with one clear error and creates nothing', async () => {
    const before = { links: await linkNames(node), tables: await listTables(node) };
    expect(() => new GatewayBridge({ ...options, subnet: '10.217.0.0/30' })).toThrow(/invalid gateway subnet 10.217.0.0\/30: at least a \/29/);
    expect(() => new GatewayBridge({ ...options, subnet: '10.217.0.1/29' })).toThrow(/host bits are set/);
    expect(() => new GatewayBridge({ ...options, bridge: 'bridge-name-too-long' })).toThrow(/invalid interface name "bridge-name-too-long"/);
    expect(() => new GatewayBridge({ ...options, nodeNetns: 'bad ns' })).toThrow(/invalid node namespace "bad ns"/);
    await expect(gw.attach({ key: 'task1', containerNetns: c1, ifname: 'eth 1' })).rejects.toThrow(/invalid interface name "eth 1"/);
    await expect(gw.attach({ key: 'task:1', containerNetns: c1, ifname: 'eth1' })).rejects.toThrow(/invalid gateway key "task:1"/);
    await expect(gw.attach({ key: 'task1', containerNetns: 'a b', ifname: 'eth1' })).rejects.toThrow(/invalid container namespace "a b"/);
    await expect(gw.attach({ key: 'task1', containerNetns: c1, ifname: 'eth1' })).rejects.toThrow(/gateway bridge shoal_gw is missing .*: ensure it first/);
    expect({ links: await linkNames(node), tables: await listTables(node) }).toEqual(before);
    expect(await linkNames(c1)).toEqual(['lo']);
  });

  it('builds the bridge with the gateway address, forwarding and the table; ensuring again changes nothing', async () => {
    await gw.ensure();
    expect(await addresses(node, 'shoal_gw')).toEqual([`${GATEWAY}/29`]);
    const [br] = await ipJson<Link>(node, ['link', 'show', 'shoal_gw']);
    expect(br?.flags).toContain('UP');
    expect((await runCommand(inNamespace(node, ['sysctl', '-n', 'net.ipv4.ip_forward']))).trim()).toBe('1');
    expect(await listTables(node)).toEqual(['shoal_gateway']);
    const state = await nodeState();
    await gw.ensure();
    expect(await nodeState()).toBe(state);
  });

  it('gives concurrent attaches distinct addresses and a default route via the gateway; the node reaches them, they do not reach each other', async () => {
    const [a1, a2] = await Promise.all([
      gw.attach({ key: 'task1', containerNetns: c1, ifname: 'eth1' }),
      gw.attach({ key: 'task2', containerNetns: c2, ifname: 'eth1' }),
    ]);
    expect([a1, a2]).toEqual(['10.217.0.2', '10.217.0.3']);
    expect(await addresses(c1, 'eth1')).toEqual(['10.217.0.2/29']);
    expect(await ipJson(c1, ['route', 'show', 'default'])).toEqual([expect.objectContaining({ gateway: GATEWAY, dev: 'eth1' })]);
    expect(await ipJson(c2, ['route', 'show', 'default'])).toEqual([expect.objectContaining({ gateway: GATEWAY, dev: 'eth1' })]);
    expect(await ports()).toEqual([
      expect.objectContaining({ ifname: vethName('10.217.0.2'), master: 'shoal_gw', isolated: true }),
      expect.objectContaining({ ifname: vethName('10.217.0.3'), master: 'shoal_gw', isolated: true }),
    ]);

    expect(await pings(node, '10.217.0.2', 2)).toBe(true);
    expect(await pings(node, '10.217.0.3', 2)).toBe(true);
    expect(await pings(c1, GATEWAY, 2)).toBe(true);
    // On the bridge: the ports are isolated, so not even ARP gets across.
    expect(await pings(c1, '10.217.0.3', 1)).toBe(false);
    expect(await pings(c2, '10.217.0.2', 1)).toBe(false);
    // Through the node: both send to each other via the gateway, which forwards nothing back onto the bridge.
    await ip(c1, ['route', 'add', '10.217.0.3/32', 'via', GATEWAY]);
    await ip(c2, ['route', 'add', '10.217.0.2/32', 'via', GATEWAY]);
    expect(await pings(c1, '10.217.0.3', 1)).toBe(false);
    await ip(c1, ['route', 'del', '10.217.0.3/32']);
    await ip(c2, ['route', 'del', '10.217.0.2/32']);
  });

  it("gives a container egress masqueraded to the node's address", async () => {
    // The outside namespace has no route to the gateway's subnet: only a masqueraded echo gets an answer.
    expect(await ipJson(outside, ['route', 'show'])).toEqual([expect.objectContaining({ dst: '192.168.217.0/24' })]);
    expect(await pings(c1, OUTSIDE_ADDRESS, 2)).toBe(true);
  });

  it("carries a host-mode published port from outside to the container's gateway address", async () => {
    const mesh = new RoutingMesh({ sandbox: `${tag}-ingress-sbox`, nodeNetns: node });
    await startNameServer(c1, 80, 'task1');
    try {
      await mesh.setPorts([], [{ protocol: 'tcp', published: 8080, target: 80, address: '10.217.0.2' }]);
      expect(await connect(outside, NODE_ADDRESS, 8080)).toEqual({ name: 'task1' });
    } finally {
      await mesh.remove();
    }
  });

  it('returns the same address for the same attachment, reuses the lowest free address and replaces a half-made attach', async () => {
    const state = await nodeState();
    expect(await gw.attach({ key: 'task1', containerNetns: c1, ifname: 'eth1' })).toBe('10.217.0.2');
    expect(await nodeState()).toBe(state);

    await gw.detach('task1');
    await gw.detach('task1');
    expect(await linkNames(c1)).toEqual(['lo']);
    expect(await gw.attach({ key: 'task3', containerNetns: c3, ifname: 'eth1' })).toBe('10.217.0.2');

    // A crash after creating the pair: no alias, and it holds c1's eth1.
    await ip(node, ['link', 'add', vethName('10.217.0.4'), 'type', 'veth', 'peer', 'name', 'eth1', 'netns', c1]);
    expect(await gw.attach({ key: 'task4', containerNetns: c1, ifname: 'eth1' })).toBe('10.217.0.4');
    expect(await addresses(c1, 'eth1')).toEqual(['10.217.0.4/29']);
    // The same key on another interface moves there.
    expect(await gw.attach({ key: 'task4', containerNetns: c1, ifname: 'eth2' })).toBe('10.217.0.4');
    expect(await linkNames(c1)).toEqual(['lo', 'eth2']);

    expect(await gw.attach({ key: 'task5', containerNetns: c3, ifname: 'eth2' })).toBe('10.217.0.5');
    expect(await gw.attach({ key: 'task6', containerNetns: c3, ifname: 'eth3' })).toBe('10.217.0.6');
    await expect(gw.attach({ key: 'task7', containerNetns: c3, ifname: 'eth4' })).rejects.toThrow(/no free address left in its subnet for task7/);
    expect(await linkNames(c3)).toEqual(['lo', 'eth1', 'eth2', 'eth3']);
    await gw.detach('task5');
    await gw.detach('task6');
  });

  it('is found again by a new instance, and ensure repairs a removed bridge and table', async () => {
    const restarted = new GatewayBridge(options);
    const expected = [
      { key: 'task3', containerNetns: c3, ifname: 'eth1', address: '10.217.0.2' },
      { key: 'task2', containerNetns: c2, ifname: 'eth1', address: '10.217.0.3' },
      { key: 'task4', containerNetns: c1, ifname: 'eth2', address: '10.217.0.4' },
    ];
    expect(await restarted.list()).toEqual(expected);
    expect(await gw.list()).toEqual(expected);

    // Deleting a bridge releases its ports; the veths stay.
    await ip(node, ['link', 'del', 'shoal_gw']);
    await removeTable(node, 'shoal_gateway');
    await restarted.ensure();
    expect(await ports()).toEqual(
      ['10.217.0.2', '10.217.0.3', '10.217.0.4'].map((a) => expect.objectContaining({ ifname: vethName(a), master: 'shoal_gw', isolated: true })),
    );
    expect(await restarted.list()).toEqual(expected);
    const state = await nodeState();
    await restarted.ensure();
    expect(await nodeState()).toBe(state);
    expect(await pings(node, '10.217.0.4', 2)).toBe(true);
    expect(await pings(c1, '10.217.0.3', 1)).toBe(false);
  });

  it('removes the bridge, every attachment and the table', async () => {
    await gw.remove();
    await gw.remove();
    expect(await linkNames(node)).toEqual(['lo', 'under0']);
    expect(await listTables(node)).toEqual([]);
    for (const ns of [c1, c2, c3]) expect(await linkNames(ns)).toEqual(['lo']);
    expect(await gw.list()).toEqual([]);
  });
});
