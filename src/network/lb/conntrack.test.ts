import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../overlay/command.js';
import { ip, ipBatch } from '../overlay/iproute.js';
import { addNetns, removeTagged } from '../overlay/testing/namespaces.js';
import { deleteUdpFlows } from './conntrack.js';
import { RoutingMesh } from './ingress.js';
import { inNamespace } from './namespace.js';
import { lbTestTag } from './testing/tcp.js';
import { sendFrom, startUdpNameServer, stopUdpServers } from './testing/udp.js';
import { programVips } from './vip.js';

// A "client" namespace linked to a "node" namespace, which routes to two UDP backends on a bridge
// (in a namespace of its own). Each backend answers datagrams on PORT with its name. The client
// reaches the backends through a VIP of its own table, or through the node's host-mode port.
const tag = lbTestTag();
const ns = (name: string): string => `${tag}-${name}`;
const client = ns('client');
const node = ns('node');
const BACKENDS = { b1: '10.215.0.11', b2: '10.215.0.12' };
const NODE_ADDRESS = '10.215.1.1';
const VIP = '10.215.2.1';
const PORT = 5353;
const PUBLISHED = 30053;

/** The name that answered a datagram sent from `sourcePort`; fails on no answer. */
async function reached(sourcePort: number, address: string, port: number): Promise<string> {
  const reply = await sendFrom(client, sourcePort, address, port);
  if (!('name' in reply)) throw new Error(`datagram from port ${sourcePort} to ${address}:${port} got no answer: ${reply.error}`);
  return reply.name;
}

/** The namespace's UDP conntrack entries, one a line, each with its id (a new entry gets a new one). */
function udpFlows(netns: string): Promise<string> {
  return runCommand(inNamespace(netns, ['conntrack', '-L', '-p', 'udp', '-o', 'id']));
}

/** The entry of the flow from the client's source port, without its countdown. */
async function flowFrom(netns: string, sourcePort: number): Promise<string | undefined> {
  const line = (await udpFlows(netns)).split('\n').find((l) => l.includes(` sport=${sourcePort} `));
  return line?.replace(/^udp\s+\d+\s+\d+\s+/, '');
}

beforeAll(async () => {
  for (const name of ['switch', 'client', 'node', ...Object.keys(BACKENDS)]) await addNetns(ns(name));
  await ipBatch(ns('switch'), ['link add br0 type bridge', 'link set br0 up']);
  for (const [name, address] of [['node', '10.215.0.1'], ...Object.entries(BACKENDS)] as [string, string][]) {
    await ip(ns('switch'), ['link', 'add', `v-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(name)]);
    await ipBatch(ns('switch'), [`link set v-${name} master br0`, `link set v-${name} up`]);
    await ipBatch(ns(name), [`addr add ${address}/24 dev eth0`, 'link set eth0 up']);
    if (name !== 'node') await ip(ns(name), ['route', 'add', 'default', 'via', '10.215.0.1']);
  }
  await ip(node, ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  await ipBatch(node, [`addr add ${NODE_ADDRESS}/24 dev eth1`, 'link set eth1 up']);
  await ipBatch(client, ['addr add 10.215.1.2/24 dev eth0', 'link set eth0 up', `route add default via ${NODE_ADDRESS}`]);
  await runCommand(inNamespace(node, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
  for (const [name] of Object.entries(BACKENDS)) await startUdpNameServer(ns(name), PORT, name);
});

afterAll(async () => {
  await stopUdpServers();
  await removeTagged(tag);
});

describe('UDP flows of removed backends', () => {
  it('a VIP update moves a flow whose backend was removed to one that is still there', async () => {
    await programVips(client, [{ vip: VIP, backends: [BACKENDS.b1, BACKENDS.b2] }]);
    const first = await reached(40000, VIP, PORT);
    // The next new flow would go to the other backend (round robin): the same port stays put.
    expect(await reached(40000, VIP, PORT)).toBe(first);
    const other = first === 'b1' ? 'b2' : 'b1';
    const otherFlow = 40001;
    expect(await reached(otherFlow, VIP, PORT)).toBe(other);
    const otherEntry = await flowFrom(client, otherFlow);
    expect(otherEntry).toMatch(/id=\d+/);
    // A flow straight to the backend's address, not through the VIP: no translation to undo.
    const directFlow = 40002;
    expect(await reached(directFlow, BACKENDS[first === 'b1' ? 'b1' : 'b2'], PORT)).toBe(first);
    const directEntry = await flowFrom(client, directFlow);

    // The removed backend still answers (its task may be draining): only a new translation avoids it.
    await programVips(client, [{ vip: VIP, backends: [BACKENDS[other]] }]);
    expect(await reached(40000, VIP, PORT)).toBe(other);
    // The flow of the backend that stayed, and the untranslated one, are the same entries as before.
    expect(await flowFrom(client, otherFlow)).toBe(otherEntry);
    expect(await flowFrom(client, directFlow)).toBe(directEntry);
  });

  it('a host-mode port given to another task moves its flows there', async () => {
    const mesh = new RoutingMesh({ sandbox: ns('ingress-sbox'), nodeNetns: node });
    await mesh.setPorts([], [{ protocol: 'udp', published: PUBLISHED, target: PORT, address: BACKENDS.b1 }]);
    expect(await reached(40100, NODE_ADDRESS, PUBLISHED)).toBe('b1');
    await mesh.setPorts([], [{ protocol: 'udp', published: PUBLISHED, target: PORT, address: BACKENDS.b2 }]);
    expect(await reached(40100, NODE_ADDRESS, PUBLISHED)).toBe('b2');
    await mesh.setPorts([], []);
    expect(await udpFlows(node)).toBe('');
  });

  it('finds nothing to delete without failing, and refuses what is not an address', async () => {
    await expect(deleteUdpFlows(client, ['10.215.9.9'])).resolves.toBeUndefined();
    await expect(deleteUdpFlows(client, ['10.215.0.11 -F'])).rejects.toThrow(/invalid IPv4 address/);
  });
});
