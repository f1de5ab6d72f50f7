import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NetworkState } from '../../../proto/gen/dispatcher.js';
import { EndpointMode, Network, PortProtocol, PublishMode } from '../../../proto/gen/objects.js';
import { FakeClock } from '../../common/testing/fake-clock.js';
import type { NetworkedContainer } from './container-networking.js';
import { NetworkAgent } from './network-agent.js';
import { fakeBackends, FakeDataPlane, type FakeBackends } from './testing/fake-backends.js';

const NODE = 'n0de1234abcd';
const FRONT = 'front0000000000000000000a';
const BACK = 'back00000000000000000000b';
const INGRESS = 'ingress00000000000000000c';

const network = (id: string, vni: number, subnet: string, gateway: string, ingress = false): Network =>
  Network.fromPartial({ meta: { id }, spec: { annotations: { name: id.slice(0, 5) }, driver: 'overlay', ingress }, vni, subnet, gateway });

/** web (VIP mode) with a task here and one on node-b, on `front`; db (dnsrr) on `back`. */
function state(extra: Partial<NetworkState> = {}): NetworkState {
  return NetworkState.fromPartial({
    underlayAddress: '192.168.7.1',
    networks: [
      { network: network(FRONT, 4097, '10.1.0.0/24', '10.1.0.1'), nodeAddress: '10.1.0.2/24', peers: [{ address: '10.1.0.11/24', underlayAddress: '192.168.7.2' }] },
      { network: network(BACK, 4098, '10.2.0.0/24', '10.2.0.1'), peers: [] },
    ],
    services: [
      {
        serviceId: 's-web',
        name: 'web',
        mode: EndpointMode.ENDPOINT_MODE_VIP,
        virtualIps: [{ networkId: FRONT, address: '10.1.0.3/24' }],
        tasks: [
          { taskId: 'ta', slot: 1, nodeId: NODE, addresses: [{ networkId: FRONT, address: '10.1.0.10/24', aliases: ['www'] }] },
          { taskId: 'tb', slot: 2, nodeId: 'node-b', addresses: [{ networkId: FRONT, address: '10.1.0.11/24', aliases: ['www'] }] },
        ],
      },
      {
        serviceId: 's-db',
        name: 'db',
        mode: EndpointMode.ENDPOINT_MODE_DNSRR,
        tasks: [{ taskId: 'td', slot: 1, nodeId: NODE, addresses: [{ networkId: BACK, address: '10.2.0.5/24', aliases: [] }] }],
      },
    ],
    ...extra,
  });
}

const container = (taskId: string, networks: [string, string][], hostPorts: NetworkedContainer['hostPorts'] = []): NetworkedContainer => ({
  taskId,
  netns: `/proc/${taskId.replace(/\D/g, '')}00/ns/net`,
  networks: networks.map(([networkId, address]) => ({ networkId, address })),
  hostPorts,
});

let dir: string;
let clock: FakeClock;
let backends: FakeBackends;
let agent: NetworkAgent;

async function start(plane = new FakeDataPlane()): Promise<NetworkAgent> {
  backends = fakeBackends(plane);
  agent = await NetworkAgent.start({ nodeId: NODE, stateDir: dir, clock, backends, networkWaitMs: 5_000, retryMs: 1_000 });
  return agent;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-netagent-'));
  clock = new FakeClock();
});

afterEach(async () => {
  await agent?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('NetworkAgent', () => {
  it('ensures each network of the state with its peers (bare addresses), under the node’s prefix, and listens for DNS in the state directory', async () => {
    await start();
    expect(agent.prefix).toBe('shoal-n0de1234');
    expect(agent.dnsSocket).toBe(join(dir, 'dns.sock'));
    agent.apply(state());
    await agent.idle();
    expect(backends.underlays).toEqual(['192.168.7.1']);
    expect([...backends.plane.networks.values()]).toEqual([
      { id: FRONT, vni: 4097, subnet: '10.1.0.0/24', gateway: '10.1.0.1' },
      { id: BACK, vni: 4098, subnet: '10.2.0.0/24', gateway: '10.2.0.1' },
    ]);
    expect(backends.plane.peers.get(FRONT)).toEqual([{ address: '10.1.0.11', underlay: '192.168.7.2' }]);
    expect(backends.plane.peers.get(BACK)).toEqual([]);
    // No ingress in the state: a sandbox and a table a previous agent may have left are removed, once.
    expect(backends.mesh?.calls).toEqual(['removeSandbox', 'removePorts']);
    agent.apply(state());
    await agent.idle();
    expect(backends.mesh?.calls).toEqual(['removeSandbox', 'removePorts']);
  });

  it('applies only what a state changes, and builds a network again when it comes back after being dropped', async () => {
    await start();
    agent.apply(state());
    await agent.idle();
    const ensures = () => backends.plane.calls.filter((c) => c.startsWith('ensure')).length;
    expect(ensures()).toBe(2);
    agent.apply(state());
    await agent.idle();
    expect(ensures()).toBe(2);
    // BACK leaves the node (its sandbox is removed), then comes back: it must be ensured again.
    agent.apply(state({ networks: state().networks.filter((n) => n.network?.meta?.id !== BACK) }));
    await agent.idle();
    agent.apply(state());
    await agent.idle();
    expect(backends.plane.calls.filter((c) => c === `ensure ${BACK}`)).toHaveLength(2);
    expect(backends.plane.networks.has(BACK)).toBe(true);
  });

  it('attaches a container once its networks are ready (eth0 first), then the gateway bridge with the default route, answers its DNS and programs its VIPs', async () => {
    await start();
    const c = container('task-1', [[FRONT, '10.1.0.10/24'], [BACK, '10.2.0.6/24']]);
    let connected = false;
    const connecting = agent.connect(c).then(() => (connected = true));
    await Promise.resolve();
    expect(connected).toBe(false);
    agent.apply(state());
    await connecting;
    expect(backends.plane.attached).toEqual([
      { networkId: FRONT, endpoint: { containerNetns: c.netns, ifname: 'eth0', address: '10.1.0.10', defaultRoute: false } },
      { networkId: BACK, endpoint: { containerNetns: c.netns, ifname: 'eth1', address: '10.2.0.6', defaultRoute: false } },
    ]);
    // Egress: the gateway bridge's interface comes last (the real one takes the default route).
    expect(backends.gatewayBridge.calls).toEqual(['ensure', 'attach task-1 eth2']);
    expect(backends.vips.get(c.netns)).toEqual([{ vip: '10.1.0.3', backends: ['10.1.0.10', '10.1.0.11'] }]);
    expect(agent.discovery.lookup('task-1', 'web')).toEqual({ kind: 'found', addresses: ['10.1.0.3'], vip: true });
    expect(agent.discovery.lookup('task-1', 'www')).toMatchObject({ kind: 'found', addresses: ['10.1.0.3'] });
    expect(agent.discovery.lookup('task-1', 'tasks.web')).toMatchObject({ addresses: ['10.1.0.10', '10.1.0.11'] });
    expect(agent.discovery.lookup('task-1', 'web.2.tb')).toMatchObject({ addresses: ['10.1.0.11'] });
    expect(agent.discovery.lookup('task-1', 'db')).toMatchObject({ addresses: ['10.2.0.5'], vip: false });
    expect(agent.discovery.lookup('task-1', 'example.com')).toEqual({ kind: 'not-ours' });

    // A container only on `back` does not see web.
    await agent.connect(container('task-2', [[BACK, '10.2.0.7/24']]));
    expect(agent.discovery.lookup('task-2', 'web')).toEqual({ kind: 'not-shared' });

    // A new state (web's task on node-b gone) reprograms the VIPs and the view.
    const next = state();
    next.services[0]!.tasks.pop();
    agent.apply(next);
    await agent.idle();
    expect(backends.vips.get(c.netns)).toEqual([{ vip: '10.1.0.3', backends: ['10.1.0.10'] }]);
    expect(agent.discovery.lookup('task-1', 'tasks.web')).toMatchObject({ addresses: ['10.1.0.10'] });

    // Removal detaches every interface and forgets the container.
    await agent.disconnect(c);
    expect(backends.plane.detached).toEqual([
      { networkId: FRONT, key: { containerNetns: c.netns, ifname: 'eth0' } },
      { networkId: BACK, key: { containerNetns: c.netns, ifname: 'eth1' } },
    ]);
    expect(backends.gatewayBridge.calls.at(-1)).toBe('detach task-1');
    // A container without host-mode ports never touches the node's table.
    expect(backends.mesh?.calls).toEqual(['removeSandbox', 'removePorts']);
    expect(agent.discovery.lookup('task-1', 'web')).toEqual({ kind: 'unknown-container' });
  });

  it('fails a container whose network never arrives, naming it', async () => {
    await start();
    agent.apply(state());
    await agent.idle();
    const connecting = agent.connect(container('task-3', [[FRONT, '10.1.0.12/24'], ['missing000000000000000000', '10.9.0.2/24']]));
    clock.advance(5_000);
    await expect(connecting).rejects.toThrow(/network missing000000000000000000 not set up on this node after 5 s/);
    expect(backends.plane.attached).toEqual([]);
  });

  it('applies one state at a time, skipping those a newer one replaced while it waited', async () => {
    await start();
    const held = backends.plane.hold();
    agent.apply(state());
    await held.reached;
    for (const vni of [5001, 5002, 5003]) {
      agent.apply(state({ networks: [{ network: network(FRONT, vni, '10.1.0.0/24', '10.1.0.1'), nodeAddress: '', peers: [] }] }));
    }
    held.release();
    await agent.idle();
    // The held first state, then only the last one.
    expect(backends.plane.calls.filter((c) => c.startsWith('reconcile'))).toEqual([`reconcile ${FRONT},${BACK}`, `reconcile ${FRONT}`]);
    expect(backends.plane.networks.get(FRONT)?.vni).toBe(5003);
    expect(backends.plane.networks.has(BACK)).toBe(false);
  });

  it('after a restart keeps the wanted networks and their endpoints, removes the rest, and leaves a running container’s VIPs alone until the first state', async () => {
    const plane = new FakeDataPlane();
    for (const id of [FRONT, BACK, 'stale0000000000000000000d']) plane.networks.set(id, { id, vni: 1, subnet: '10.9.0.0/24', gateway: '10.9.0.1' });
    await start(plane);
    const running = container('task-1', [[FRONT, '10.1.0.10/24']]);
    agent.adopt(running);
    await Promise.resolve();
    expect(backends.vips.size).toBe(0);
    expect(agent.discovery.lookup('task-1', 'web')).toEqual({ kind: 'not-ours' });

    agent.apply(state());
    await agent.idle();
    expect([...plane.networks.keys()]).toEqual([FRONT, BACK]);
    expect(plane.calls.filter((c) => c.startsWith('detach') || c.startsWith('attach'))).toEqual([]);
    expect(backends.vips.get(running.netns)).toEqual([{ vip: '10.1.0.3', backends: ['10.1.0.10', '10.1.0.11'] }]);
    expect(agent.discovery.lookup('task-1', 'web')).toMatchObject({ kind: 'found', addresses: ['10.1.0.3'] });
  });

  it('tries a failed state again, unless a newer one came', async () => {
    await start();
    backends.plane.failEnsures = 1;
    agent.apply(state());
    await agent.idle();
    expect(backends.plane.networks.size).toBe(1);
    clock.advance(1_000);
    await agent.idle();
    expect(backends.plane.networks.size).toBe(2);
  });

  it('publishes ingress ports through the mesh on the node’s ingress address, over the tasks on any node', async () => {
    await start();
    const withIngress = state();
    withIngress.networks.push({
      network: network(INGRESS, 4096, '10.255.0.0/16', '10.255.0.1', true),
      nodeAddress: '10.255.0.4/16',
      peers: [{ address: '10.255.0.5/16', underlayAddress: '192.168.7.2' }],
    });
    const web = withIngress.services[0]!;
    web.virtualIps.push({ networkId: INGRESS, address: '10.255.0.3/16' });
    web.ports = [
      { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 30080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
      // Host mode is the local containers' business (below), not the state's.
      { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST },
    ];
    web.tasks[0]!.addresses.push({ networkId: INGRESS, address: '10.255.0.6/16', aliases: [] });
    web.tasks[1]!.addresses.push({ networkId: INGRESS, address: '10.255.0.5/16', aliases: [] });
    agent.apply(withIngress);
    await agent.idle();

    const mesh = backends.mesh!;
    expect(mesh.sandbox).toBe('shoal-n0de1234-ingress-sbox');
    expect(mesh.calls).toEqual(['ensureSandbox', 'setPorts']);
    expect(backends.plane.attached).toEqual([
      { networkId: INGRESS, endpoint: { containerNetns: mesh.sandbox, ifname: 'eth0', address: '10.255.0.4', defaultRoute: false } },
    ]);
    expect(mesh.ports).toEqual([{ protocol: 'tcp', published: 30080, target: 80, backends: ['10.255.0.6', '10.255.0.5'] }]);
    expect(mesh.hostPorts).toEqual([]);
    // The ingress network has no DNS and no VIP inside containers.
    const c = container('task-9', [[FRONT, '10.1.0.20/24'], [INGRESS, '10.255.0.9/16']]);
    await agent.connect(c);
    expect(backends.vips.get(c.netns)).toEqual([{ vip: '10.1.0.3', backends: ['10.1.0.10', '10.1.0.11'] }]);
    expect(mesh.hostPorts).toEqual([]);

    // No more ingress port: the sandbox and the table go.
    agent.apply(state());
    await agent.idle();
    expect(mesh.calls).toEqual(['ensureSandbox', 'setPorts', 'removeSandbox', 'removePorts']);
  });

  it('publishes a container’s host-mode ports to its address on the gateway bridge', async () => {
    await start();
    agent.apply(state());
    await agent.idle();
    const mesh = backends.mesh!;
    const gateway = backends.gatewayBridge;
    const web = container('task-7', [[FRONT, '10.1.0.20/24']], [{ protocol: 'tcp', published: 8080, target: 80 }]);
    await agent.connect(web);
    expect(backends.plane.attached).toEqual([
      { networkId: FRONT, endpoint: { containerNetns: web.netns, ifname: 'eth0', address: '10.1.0.20', defaultRoute: false } },
    ]);
    expect(gateway.calls).toEqual(['ensure', 'attach task-7 eth1']);
    expect(mesh.ports).toEqual([]);
    expect(mesh.hostPorts).toEqual([{ protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.2' }]);

    // On no overlay network: eth0 is on the gateway bridge, and there is no VIP table to write.
    const dns = container('task-8', [], [{ protocol: 'udp', published: 53, target: 5353 }]);
    await agent.connect(dns);
    expect(gateway.calls.slice(2)).toEqual(['attach task-8 eth0']);
    expect(backends.vips.has(dns.netns)).toBe(false);
    expect(mesh.hostPorts).toEqual([
      { protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.2' },
      { protocol: 'udp', published: 53, target: 5353, address: '172.30.0.3' },
    ]);

    // A replacement on this node while the old container is still there: the newest holds the port.
    const next = container('task-9', [], [{ protocol: 'tcp', published: 8080, target: 80 }]);
    await agent.connect(next);
    expect(mesh.hostPorts).toEqual([
      { protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.4' },
      { protocol: 'udp', published: 53, target: 5353, address: '172.30.0.3' },
    ]);
    await agent.disconnect(web);
    await agent.disconnect(dns);
    expect(mesh.hostPorts).toEqual([{ protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.4' }]);

    // A new agent (a restart) finds the survivor's address on the bridge and publishes it with the first state.
    await agent.close();
    agent = await NetworkAgent.start({ nodeId: NODE, stateDir: dir, backends, clock });
    agent.adopt(next);
    agent.apply(state());
    await agent.idle();
    const restartedMesh = backends.mesh!;
    expect(restartedMesh).not.toBe(mesh);
    await vi.waitFor(() => expect(restartedMesh.hostPorts).toEqual([{ protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.4' }]));

    // A container whose connect fails leaves nothing behind: not its port, not its address.
    const failing = container('task-10', [[FRONT, '10.1.0.30/24']], [{ protocol: 'tcp', published: 9090, target: 90 }]);
    backends.programVips = () => Promise.reject(new Error('fake nft failure'));
    await expect(agent.connect(failing)).rejects.toThrow('fake nft failure');
    expect([...gateway.attachments.keys()]).toEqual(['task-9']);
    expect(backends.plane.detached.at(-1)).toEqual({ networkId: FRONT, key: { containerNetns: failing.netns, ifname: 'eth0' } });
    expect(restartedMesh.hostPorts).toEqual([{ protocol: 'tcp', published: 8080, target: 80, address: '172.30.0.4' }]);

    // Its last container gone, the node publishes nothing.
    await agent.disconnect(next);
    expect(restartedMesh.calls.at(-1)).toBe('removePorts');
    expect(gateway.attachments.size).toBe(0);
  });
});
