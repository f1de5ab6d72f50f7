import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayDataPlane, type OverlayNetworkConfig } from '../overlay/data-plane.js';
import { ip, ipBatch, ipJson, type IpLink } from '../overlay/iproute.js';
import { netnsExists } from '../overlay/sandbox.js';
import { addNetns, linkNodes, removeTagged } from '../overlay/testing/namespaces.js';
import { RoutingMesh } from './ingress.js';
import type { HostPort, IngressPort } from './ingress-rules.js';
import { listTables, nft } from './nft.js';
import { connect, lbTestTag, namesReached, startNameServer, stopServers } from './testing/tcp.js';

// Two "nodes" (namespaces joined by a veth underlay), each with the ingress overlay network, a
// task on it and a routing mesh; node A also has a host-mode task behind a veth of its own (what
// Docker's docker_gwbridge gives a container). Clients are the nodes themselves.
const tag = lbTestTag();
const nodeA = `${tag}-node-a`;
const nodeB = `${tag}-node-b`;
const UNDERLAY_A = '192.168.214.1';
const UNDERLAY_B = '192.168.214.2';
const taskA = `${tag}-task-a`;
const taskB = `${tag}-task-b`;
const hostTask = `${tag}-host-task`;
const TASK_A = '10.215.0.5';
const TASK_B = '10.215.0.6';
const HOST_TASK = '10.216.0.2';
const ingressNet: OverlayNetworkConfig = { id: 'ingress0000000000000000', vni: 4200, subnet: '10.215.0.0/24', gateway: '10.215.0.1' };
const SBOX_A = '10.215.0.2';
const SBOX_B = '10.215.0.3';

const web = (backends: string[]): IngressPort => ({ protocol: 'tcp', published: 30080, target: 80, backends });
const hostPort: HostPort = { protocol: 'tcp', published: 30081, target: 80, address: HOST_TASK };

let planeA: OverlayDataPlane;
let meshA: RoutingMesh;
let meshB: RoutingMesh;

function counts(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

async function links(ns: string): Promise<string> {
  return JSON.stringify((await ipJson<IpLink & { ifindex: number }>(ns, ['link', 'show'])).map((l) => [l.ifindex, l.ifname, l.flags]));
}

beforeAll(async () => {
  for (const n of [nodeA, nodeB, taskA, taskB, hostTask]) await addNetns(n);
  await linkNodes(nodeA, nodeB, { addressA: UNDERLAY_A, addressB: UNDERLAY_B, mtu: 1400 });
  planeA = new OverlayDataPlane({ prefix: `${tag}a`, underlayAddress: UNDERLAY_A, underlayNetns: nodeA });
  const planeB = new OverlayDataPlane({ prefix: `${tag}b`, underlayAddress: UNDERLAY_B, underlayNetns: nodeB });
  meshA = new RoutingMesh({ sandbox: `${tag}a-ingress-sbox`, nodeNetns: nodeA });
  meshB = new RoutingMesh({ sandbox: `${tag}b-ingress-sbox`, nodeNetns: nodeB });

  for (const [plane, mesh, task, taskAddress, sboxAddress] of [
    [planeA, meshA, taskA, TASK_A, SBOX_A],
    [planeB, meshB, taskB, TASK_B, SBOX_B],
  ] as const) {
    await plane.ensureNetwork(ingressNet);
    await mesh.ensureSandbox();
    await plane.attach(ingressNet.id, { containerNetns: mesh.sandbox, ifname: 'eth0', address: sboxAddress, defaultRoute: false });
    await plane.attach(ingressNet.id, { containerNetns: task, ifname: 'eth0', address: taskAddress, defaultRoute: true });
  }
  // Each node's sandbox and task are peers of the other node's.
  await planeA.setPeers(ingressNet.id, [{ address: TASK_B, underlay: UNDERLAY_B }, { address: SBOX_B, underlay: UNDERLAY_B }]);
  await planeB.setPeers(ingressNet.id, [{ address: TASK_A, underlay: UNDERLAY_A }, { address: SBOX_A, underlay: UNDERLAY_A }]);

  await ip(nodeA, ['link', 'add', 'host0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hostTask]);
  await ipBatch(nodeA, ['addr add 10.216.0.1/24 dev host0', 'link set host0 up']);
  await ipBatch(hostTask, [`addr add ${HOST_TASK}/24 dev eth0`, 'link set eth0 up', 'route add default via 10.216.0.1']);

  await startNameServer(taskA, 80, 'task-a');
  await startNameServer(taskB, 80, 'task-b');
  await startNameServer(hostTask, 80, 'host-task');
});

afterAll(async () => {
  await stopServers();
  await removeTagged(tag);
});

describe('published ports through the routing mesh', () => {
  it('answers an ingress port on every node and reaches the tasks on both nodes, from outside and from the node itself', async () => {
    await meshA.setPorts([web([TASK_A, TASK_B])], [hostPort]);
    await meshB.setPorts([web([TASK_B, TASK_A])], []);
    expect(counts(await namesReached(nodeB, UNDERLAY_A, 30080, 4))).toEqual({ 'task-a': 2, 'task-b': 2 });
    expect(counts(await namesReached(nodeA, UNDERLAY_B, 30080, 4))).toEqual({ 'task-a': 2, 'task-b': 2 });
    expect(counts(await namesReached(nodeA, UNDERLAY_A, 30080, 2))).toEqual({ 'task-a': 1, 'task-b': 1 });
  });

  it('answers a host-mode port only on its node, from the local task', async () => {
    expect(await namesReached(nodeB, UNDERLAY_A, 30081, 2)).toEqual(['host-task', 'host-task']);
    expect(await connect(nodeA, UNDERLAY_B, 30081)).toEqual({ error: expect.stringMatching(/Connection refused/) });
  });

  it('refuses an ingress port whose service has no task left, and reaches only the remaining tasks after an update', async () => {
    await meshA.setPorts([web([])], [hostPort]);
    expect(await connect(nodeB, UNDERLAY_A, 30080)).toEqual({ error: expect.stringMatching(/Connection refused/) });
    await meshA.setPorts([web([TASK_B])], [hostPort]);
    expect(await namesReached(nodeB, UNDERLAY_A, 30080, 3)).toEqual(['task-b', 'task-b', 'task-b']);
  });

  it('changes nothing when the sandbox and the same ports are set again', async () => {
    await meshA.setPorts([web([TASK_A, TASK_B])], [hostPort]);
    const snapshot = async (): Promise<string[]> => [
      await nft(nodeA, ['-a', 'list', 'ruleset']),
      await nft(meshA.sandbox, ['-a', 'list', 'ruleset']),
      await links(nodeA),
      await links(meshA.sandbox),
      await ip(meshA.sandbox, ['route', 'show']),
    ];
    const before = await snapshot();
    await meshA.ensureSandbox();
    await meshA.setPorts([web([TASK_B, TASK_A])], [hostPort]);
    expect(await snapshot()).toEqual(before);
    expect(counts(await namesReached(nodeB, UNDERLAY_A, 30080, 2))).toEqual({ 'task-a': 1, 'task-b': 1 });
  });

  it('does not let a container on the ingress network use the sandbox as a router, even to a node that routes back', async () => {
    await ip(taskA, ['route', 'add', '10.216.0.0/24', 'via', SBOX_A]);
    await ip(nodeA, ['route', 'add', ingressNet.subnet, 'via', meshA.sandboxAddress]);
    expect(await connect(taskA, HOST_TASK, 80)).toEqual({ error: expect.stringMatching(/timed out/) });
    await ip(nodeA, ['route', 'del', ingressNet.subnet]);
  });

  it('refuses ports given twice, and ingress ports without a sandbox', async () => {
    await expect(meshA.setPorts([web([])], [{ ...hostPort, published: 30080 }])).rejects.toThrow(/tcp\/30080 is given twice/);
    const noSandbox = new RoutingMesh({ sandbox: `${tag}x-ingress-sbox`, nodeNetns: nodeB });
    await expect(noSandbox.setPorts([web([])], [])).rejects.toThrow(/ensure it first/);
  });

  it('without ingress ports the sandbox goes on its own, and host-mode ports go on answering', async () => {
    await meshA.setPorts([], [hostPort]);
    await meshA.removeSandbox();
    expect(await netnsExists(meshA.sandbox)).toBe(false);
    expect(await namesReached(nodeB, UNDERLAY_A, 30081, 2)).toEqual(['host-task', 'host-task']);
    await meshA.removePorts();
    expect(await connect(nodeB, UNDERLAY_A, 30081)).toEqual({ error: expect.stringMatching(/Connection refused|timed out/) });
  });

  it('leaves nothing behind on removal: no table, no link, no sandbox, no ingress endpoint', async () => {
    await meshA.remove();
    await meshA.remove();
    expect(await netnsExists(meshA.sandbox)).toBe(false);
    expect(await listTables(nodeA)).toEqual([]);
    expect((await ipJson<IpLink>(nodeA, ['link', 'show'])).map((l) => l.ifname).sort()).toEqual(['host0', 'lo', 'under0']);
    expect(await planeA.endpoints(ingressNet.id)).toEqual([{ containerNetns: taskA, ifname: 'eth0', address: TASK_A }]);
    expect(await connect(nodeB, UNDERLAY_A, 30080)).toEqual({ error: expect.stringMatching(/Connection refused/) });
  });
});
