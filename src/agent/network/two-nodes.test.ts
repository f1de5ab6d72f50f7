/**
 * The agent's networking end to end (needs root): two "nodes", each a RuntimeExecutor with its own
 * NetworkAgent, sharing this kernel. Each node's underlay is a namespace of the test's own, the two
 * joined by a veth pair (as src/network/overlay/data-plane.test.ts does): the executors run in the
 * test's namespace, but their containers get network namespaces of their own, the sandboxes are
 * the test's prefixes' and the VXLAN devices live in the node namespaces, so every packet stays
 * inside namespaces this test made. The NetworkStates are hand-made (no managers): one overlay
 * network, a busybox container on each node; A pings B, resolves `web` to its VIP through its DNS
 * relay and the resolver, and reaches B's nc server through the VIP, also after node B's agent
 * (executor and NetworkAgent) was replaced while its container ran.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkState } from '../../../proto/gen/dispatcher.js';
import { EndpointMode, Task } from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import { ipJson, type IpLink } from '../../network/overlay/iproute.js';
import { listNetns } from '../../network/overlay/sandbox.js';
import { addNetns, linkNodes, removeTagged, testTag } from '../../network/overlay/testing/namespaces.js';
import { removeTestCgroups, testCgroupName } from '../../runtime/cgroups/testing/test-cgroups.js';
import { RuntimeContainer } from '../../runtime/container/index.js';
import { FakeUpstream } from '../../network/dns/testing/fake-upstream.js';
import { RegistryClient } from '../../runtime/image/registry-client.js';
import { LocalRegistry } from '../../runtime/image/testing/local-registry.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { RuntimeExecutor } from '../runtime-executor/runtime-executor.js';
import { NetworkAgent } from './network-agent.js';

const tag = testTag();
const cgroupName = testCgroupName();
const UNDERLAY = { a: '192.168.214.1', b: '192.168.214.2' } as const;
const NET = 'agentnet0000000000000000a';
const ADDRESS = { a: '10.214.1.2', b: '10.214.1.3' } as const;
const VIP = '10.214.1.100';

interface Node {
  executor: RuntimeExecutor;
  network: NetworkAgent;
  runtimeRoot: string;
  task: Task;
}

let registry: LocalRegistry;
let upstream: FakeUpstream;
/** The one name the fake upstream nameserver knows, and its address. */
const OUTSIDE = '192.0.2.44';
let work: string;
const nodes: Partial<Record<'a' | 'b', Node>> = {};

function stateFor(node: 'a' | 'b', taskB: Task): NetworkState {
  const other = node === 'a' ? 'b' : 'a';
  return NetworkState.fromPartial({
    underlayAddress: UNDERLAY[node],
    networks: [
      {
        network: { meta: { id: NET }, spec: { annotations: { name: 'front' }, driver: 'overlay' }, vni: 4214, subnet: '10.214.1.0/24', gateway: '10.214.1.1' },
        peers: [{ address: `${ADDRESS[other]}/24`, underlayAddress: UNDERLAY[other] }],
      },
    ],
    services: [
      {
        serviceId: 'web-service',
        name: 'web',
        mode: EndpointMode.ENDPOINT_MODE_VIP,
        virtualIps: [{ networkId: NET, address: `${VIP}/24` }],
        tasks: [{ taskId: taskB.meta!.id, slot: 1, nodeId: 'node-b', addresses: [{ networkId: NET, address: `${ADDRESS.b}/24`, aliases: [] }] }],
      },
    ],
  });
}

/** A node's executor and network agent, over the node's directories (a restart makes new ones there). */
async function makeNode(name: 'a' | 'b', task: Task): Promise<Node> {
  const dir = join(work, name);
  const runtimeRoot = join(dir, 'run', 'runtime');
  const executor = new RuntimeExecutor({
    stateDir: join(dir, 'containers'),
    imageStateDir: dir,
    runtimeRoot,
    cgroupParent: `/${cgroupName}/node-${name}`,
    registry: new RegistryClient(),
    pollMs: 20,
  });
  // Node A forwards names outside the cluster to a fake nameserver on loopback; node B to none.
  const dnsUpstream = name === 'a' ? [upstream.server] : [];
  const network = await NetworkAgent.start({ nodeId: `node${name}`, stateDir: dir, prefix: `${tag}${name}`, nodeNetns: `${tag}-node-${name}`, networkWaitMs: 20_000, dnsUpstream });
  executor.useNetworking(network);
  const node = { executor, network, runtimeRoot, task };
  nodes[name] = node;
  return node;
}

/** A task on the overlay network at `address`, or on no network when `address` is undefined. */
function taskOn(image: string, address: string | undefined, args: string[]): Task {
  return Task.fromPartial({
    meta: { id: newId() },
    spec: { container: { image, args } },
    networks: address === undefined ? [] : [{ networkId: NET, address: `${address}/24`, aliases: [] }],
  });
}

async function exec(node: Node, args: string[], task = node.task): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const container = RuntimeContainer.attach(task.meta!.id, { root: node.runtimeRoot })!;
  return container.exec(args, { timeoutMs: 10_000 });
}

beforeAll(async () => {
  upstream = await FakeUpstream.start({ 'outside.example': OUTSIDE });
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
  work = await mkdtemp(join(tmpdir(), 'shoal-agentnet-'));
  await addNetns(`${tag}-node-a`);
  await addNetns(`${tag}-node-b`);
  await linkNodes(`${tag}-node-a`, `${tag}-node-b`, { addressA: UNDERLAY.a, addressB: UNDERLAY.b, mtu: 1400 });
}, 60_000);

afterAll(async () => {
  for (const node of Object.values(nodes)) {
    await node.executor.remove(node.task).catch(() => undefined);
    node.executor.close();
    await node.network.removeAll().catch(() => undefined);
    await node.network.close();
  }
  await removeTagged(tag);
  await removeTestCgroups(cgroupName);
  await registry?.stop();
  await upstream?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('containers on an overlay network across two nodes', () => {
  it('reach each other by address, find a service by name and reach it through its VIP; removal leaves no endpoint', async () => {
    const image = `${registry.host}/busybox:1.0`;
    const taskB = taskOn(image, ADDRESS.b, ['nc', '-ll', '-p', '8080', '-e', 'echo', 'hello from b']);
    const taskA = taskOn(image, ADDRESS.a, ['sleep', '3600']);
    const a = await makeNode('a', taskA);
    const b = await makeNode('b', taskB);
    await a.executor.prepare(taskA);
    await b.executor.prepare(taskB);

    // The containers wait for their network, which arrives with the states.
    const started = Promise.all([a.executor.start(taskA), b.executor.start(taskB)]);
    a.network.apply(stateFor('a', taskB));
    b.network.apply(stateFor('b', taskB));
    await started;

    const ping = await exec(a, ['ping', '-c', '1', '-W', '3', ADDRESS.b]);
    expect(ping.exitCode, ping.stderr).toBe(0);

    const resolv = await exec(a, ['cat', '/etc/resolv.conf']);
    expect(resolv.stdout).toBe('nameserver 127.0.0.11\noptions ndots:0\n');
    expect((await exec(a, ['sh', '-c', 'echo x > /etc/resolv.conf'])).exitCode).not.toBe(0);

    const lookup = await exec(a, ['nslookup', 'web', '127.0.0.11']);
    expect(lookup.stdout).toMatch(new RegExp(`Name:\\s+web\\s+Address:\\s+${VIP.replace(/\./g, '\\.')}\\b`));
    const tasks = await exec(a, ['nslookup', 'tasks.web', '127.0.0.11']);
    expect(tasks.stdout).toMatch(new RegExp(`Address:\\s+${ADDRESS.b.replace(/\./g, '\\.')}\\b`));

    // Reverse lookups: B's task address gives its task name, the VIP its service's.
    expect((await exec(a, ['nslookup', ADDRESS.b, '127.0.0.11'])).stdout).toContain(`name = web.1.${taskB.meta!.id}`);
    expect((await exec(a, ['nslookup', VIP, '127.0.0.11'])).stdout).toMatch(/name = web$/m);

    const viaVip = await exec(a, ['nc', '-w', '3', VIP, '8080']);
    expect(viaVip.stdout.trim(), viaVip.stderr).toBe('hello from b');

    // Names outside the cluster: forwarded by node A's agent to its nameserver, REFUSED by node B's.
    const outside = await exec(a, ['nslookup', 'outside.example', '127.0.0.11']);
    expect(outside.stdout).toMatch(new RegExp(`Name:\\s+outside\\.example\\s+Address:\\s+${OUTSIDE.replace(/\./g, '\\.')}\\b`));
    const refused = await exec(b, ['nslookup', 'outside.example', '127.0.0.11']);
    expect(refused.stdout + refused.stderr).toContain('REFUSED');
    expect(refused.stdout).not.toContain(OUTSIDE);
    // Only what the cluster does not know went out (busybox asks for A and AAAA), never `web`.
    const askedNames = (): string[] => [...new Set(upstream.asked.map((q) => q.name))];
    expect(askedNames()).toEqual(['outside.example']);
    const askedBefore = upstream.asked.length;

    // A container on no overlay network has the same DNS: outside names, but no service of the cluster.
    const loner = taskOn(image, undefined, ['sleep', '3600']);
    await a.executor.prepare(loner);
    await a.executor.start(loner);
    expect((await exec(a, ['nslookup', 'outside.example', '127.0.0.11'], loner)).stdout).toContain(OUTSIDE);
    const hidden = await exec(a, ['nslookup', 'web', '127.0.0.11'], loner);
    expect(hidden.stdout + hidden.stderr).toContain('NXDOMAIN');
    expect(askedNames()).toEqual(['outside.example']);
    expect(upstream.asked.length).toBeGreaterThan(askedBefore);
    await a.executor.shutdown(loner, 1_000);
    await a.executor.remove(loner);

    // Node B's agent restarts: its container runs on, keeps its interface, and is served again.
    const eth0 = async (): Promise<string> => (await exec(b, ['cat', '/sys/class/net/eth0/ifindex'])).stdout.trim();
    const before = await eth0();
    b.executor.close();
    await b.network.close();
    const b2 = await makeNode('b', taskB);
    expect(await b2.executor.inspect(taskB.meta!.id)).toMatchObject({ running: true });
    b2.network.apply(stateFor('b', taskB));
    await b2.network.idle();
    expect(await eth0()).toBe(before);
    expect((await exec(a, ['nc', '-w', '3', VIP, '8080'])).stdout.trim()).toBe('hello from b');
    // Its relay reconnects to the new resolver on its own, after a back-off of at most 1 s.
    const answered = new RegExp(`Address:\\s+${ADDRESS.b.replace(/\./g, '\\.')}\\b`);
    await waitFor('the new resolver to answer B', async () => answered.test((await exec(b2, ['nslookup', 'tasks.web', '127.0.0.11'])).stdout), 10_000, 200);

    // The interface goes with the task: nothing of it is left in the sandbox.
    const sandbox = `${tag}a-${NET.slice(0, 12)}`;
    expect(await listNetns()).toContain(sandbox);
    await a.executor.shutdown(taskA, 1_000);
    await a.executor.remove(taskA);
    const links = await ipJson<IpLink>(sandbox, ['link', 'show']);
    expect(links.map((l) => l.ifname).filter((n) => n.startsWith('ve'))).toEqual([]);
  }, 90_000);
});
