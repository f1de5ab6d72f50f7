import { describe, expect, it } from 'vitest';
import { EndpointMode, Network, PortProtocol, PublishMode, Service, ServiceSpec, Task, TaskState } from '../../../proto/gen/objects.js';
import { createTestStore, makeNode, makeTask } from '../../store/testing/index.js';
import { AllocationError } from './allocation-error.js';
import { AllocatorState } from './allocator-state.js';
import { allocateEndpoint, endpointFits } from './endpoint.js';
import { ingressNetwork } from './ingress.js';
import { reconcileAttachments } from './node-attachments.js';
import { rebuildAllocator } from './rebuild.js';
import { releaseFor } from './releases.js';
import { SubnetPool } from './subnet-pool.js';

const tcp = (published: number, target = 80) => ({ protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: target, publishedPort: published, publishMode: PublishMode.PUBLISH_MODE_INGRESS });

function spec(networks: string[], ports = [tcp(0)], mode = EndpointMode.ENDPOINT_MODE_VIP): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name: 'web' },
    task: { container: { image: 'nginx' }, networks: networks.map((target) => ({ target })) },
    endpoint: { mode, ports },
  });
}

describe('AllocatorState', () => {
  it('gives networks distinct VNIs and subnets, refuses overlaps and reuses what was released', () => {
    const state = new AllocatorState();
    const a = state.allocateNetwork('a', '');
    const b = state.allocateNetwork('b', '10.5.0.0/16');
    expect(a).toEqual({ vni: 4096, subnet: '10.0.0.0/24', gateway: '10.0.0.1' });
    expect(b.vni).toBe(4097);
    expect(() => state.allocateNetwork('c', '10.5.3.0/24')).toThrow('subnet 10.5.3.0/24 overlaps 10.5.0.0/16, which is in use');
    state.releaseNetwork(Network.fromPartial({ meta: { id: 'b' }, vni: b.vni, subnet: b.subnet }));
    expect(state.allocateNetwork('c', '10.5.3.0/24').subnet).toBe('10.5.3.0/24');
  });

  it('says when a subnet has no address left', () => {
    const state = new AllocatorState();
    state.allocateNetwork('tiny', '10.9.0.0/30');
    expect(state.allocateAddress('tiny')).toBe('10.9.0.2/30');
    expect(() => state.allocateAddress('tiny')).toThrow(new AllocationError('exhausted', 'network tiny (10.9.0.0/30) has no free address'));
  });

  it('says when the pool has no subnet left', () => {
    const state = new AllocatorState(new SubnetPool('10.0.0.0/24', 25));
    state.allocateNetwork('a', '');
    state.allocateNetwork('b', '');
    expect(() => state.allocateNetwork('c', '')).toThrow('the default address pool has no free subnet');
  });
});

describe('rebuildAllocator', () => {
  it('reserves every VNI, subnet, address and port found in the store, so none is given twice', async () => {
    const { store } = createTestStore();
    const first = new AllocatorState();
    first.restoreNetwork(ingressNetwork('ingress-1'));
    const net = first.allocateNetwork('net-1', '');
    const taskAddress = first.allocateAddress('net-1');
    const nodeAddress = first.allocateAddress('net-1');
    const vip = first.allocateAddress('net-1');
    await store.update((tx) => {
      tx.networks.create(ingressNetwork('ingress-1'));
      tx.networks.create(Network.fromPartial({ meta: { id: 'net-1' }, spec: { annotations: { name: 'net' } }, ...net }));
      tx.services.create(Service.fromPartial({ meta: { id: 's1' }, spec: spec(['net-1']), endpoint: { ports: [tcp(30000)], virtualIps: [{ networkId: 'net-1', address: vip }] } }));
      tx.tasks.create(Task.fromPartial({ ...makeTask({ id: 't1' }), networks: [{ networkId: 'net-1', address: taskAddress }] }));
      tx.nodes.create({ ...makeNode('w1', 'n1'), attachments: [{ networkId: 'net-1', address: nodeAddress, aliases: [] }] });
    });
    const { state, problems } = store.view((tx) => rebuildAllocator(tx));
    expect(problems).toEqual([]);
    expect(state.allocateNetwork('net-2', '')).toMatchObject({ vni: 4098, subnet: '10.0.1.0/24' });
    expect(() => state.allocateNetwork('net-3', '10.255.7.0/24')).toThrow('overlaps 10.255.0.0/16');
    expect(state.allocateAddress('net-1')).toBe('10.0.0.5/24');
    expect(state.ports.claim(PortProtocol.PORT_PROTOCOL_TCP, 30000, 's2')).toBe('s1');
    expect(state.ports.allocate(PortProtocol.PORT_PROTOCOL_TCP, 's2')).toBe(30001);
  });

  it('releases what a deleted object held once the deletion is committed', async () => {
    const { store } = createTestStore();
    const state = new AllocatorState();
    state.allocateNetwork('net-1', '10.1.0.0/29');
    const address = state.allocateAddress('net-1');
    const task = Task.fromPartial({ ...makeTask({ id: 't1' }), networks: [{ networkId: 'net-1', address }] });
    await store.update((tx) => tx.tasks.create(task));
    const unwatch = store.watch((events) => events.forEach((e) => releaseFor(state, e)));
    await store.update((tx) => tx.tasks.delete(tx.tasks.get('t1')!));
    unwatch();
    // Next-fit: the freed address comes back once the rest of the subnet is used.
    expect([1, 2, 3, 4, 5].map(() => state.allocateAddress('net-1'))).toContain(address);
  });
});

describe('allocateEndpoint', () => {
  function setup() {
    const state = new AllocatorState();
    state.allocateNetwork('ingress', '10.255.0.0/16');
    state.allocateNetwork('net-1', '');
    const nameOf = (id: string) => ({ s1: 'web', s2: 'api' })[id] ?? id;
    return { state, nameOf };
  }

  it('publishes port 0 on the next free dynamic port and gives VIPs on the networks and the ingress', () => {
    const { state, nameOf } = setup();
    const { endpoint } = allocateEndpoint(state, { serviceId: 's1', spec: spec(['net-1']), current: undefined, ingressNetworkId: 'ingress', nameOf });
    expect(endpoint?.ports).toEqual([tcp(30000)]);
    expect(endpoint?.virtualIps).toEqual([
      { networkId: 'net-1', address: '10.0.0.2/24' },
      { networkId: 'ingress', address: '10.255.0.2/16' },
    ]);
    const service = Service.fromPartial({ spec: spec(['net-1']), endpoint });
    expect(endpointFits(service, 'ingress')).toBe(true);
    expect(endpointFits({ ...service, spec: spec([]) }, 'ingress')).toBe(false);
  });

  it('refuses a port another service publishes, naming it, and takes nothing', () => {
    const { state, nameOf } = setup();
    allocateEndpoint(state, { serviceId: 's1', spec: spec([], [tcp(8080)]), current: undefined, ingressNetworkId: 'ingress', nameOf });
    expect(() => allocateEndpoint(state, { serviceId: 's2', spec: spec(['net-1'], [tcp(9090), tcp(8080, 81)]), current: undefined, ingressNetworkId: 'ingress', nameOf })).toThrow(
      'port 8080/tcp is already published by service web',
    );
    expect(state.ports.ownerOf(PortProtocol.PORT_PROTOCOL_TCP, 9090)).toBeUndefined();
    expect(state.allocateAddress('net-1')).toBe('10.0.0.2/24');
  });

  it('keeps the ports and VIPs an update still uses, and undo gives back only what it took', () => {
    const { state, nameOf } = setup();
    const first = allocateEndpoint(state, { serviceId: 's1', spec: spec(['net-1']), current: undefined, ingressNetworkId: 'ingress', nameOf }).endpoint;
    const next = allocateEndpoint(state, { serviceId: 's1', spec: spec(['net-1'], [tcp(0), tcp(0, 443)]), current: first, ingressNetworkId: 'ingress', nameOf });
    expect(next.endpoint?.ports.map((p) => p.publishedPort)).toEqual([30000, 30001]);
    expect(next.endpoint?.virtualIps).toEqual(first?.virtualIps);
    next.undo();
    expect(state.ports.ownerOf(PortProtocol.PORT_PROTOCOL_TCP, 30000)).toBe('s1');
    expect(state.ports.ownerOf(PortProtocol.PORT_PROTOCOL_TCP, 30001)).toBeUndefined();
  });

  it('gives no VIP in dnsrr mode', () => {
    const { state, nameOf } = setup();
    const { endpoint } = allocateEndpoint(state, { serviceId: 's1', spec: spec(['net-1'], [], EndpointMode.ENDPOINT_MODE_DNSRR), current: undefined, ingressNetworkId: 'ingress', nameOf });
    expect(endpoint?.virtualIps).toEqual([]);
  });
});

describe('reconcileAttachments', () => {
  it('gives a node an address on the networks of its live tasks and drops the others', () => {
    const state = new AllocatorState();
    state.allocateNetwork('net-1', '');
    const live = Task.fromPartial({ ...makeTask({ nodeId: 'n1', state: TaskState.TASK_STATE_RUNNING }), networks: [{ networkId: 'net-1', address: '10.0.0.9/24' }] });
    const planned = reconcileAttachments(state, makeNode('w1', 'n1'), [live]);
    expect(planned?.node.attachments).toEqual([{ networkId: 'net-1', address: '10.0.0.2/24', aliases: [] }]);
    const dead = { ...live, status: { ...live.status!, state: TaskState.TASK_STATE_SHUTDOWN } };
    expect(reconcileAttachments(state, planned!.node, [dead])?.node.attachments).toEqual([]);
    expect(reconcileAttachments(state, planned!.node, [live])).toBeUndefined();
  });
});
