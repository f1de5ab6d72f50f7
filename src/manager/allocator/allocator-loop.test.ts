import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EndpointMode, NodeState, PortProtocol, PublishMode, ServiceSpec, TaskState, type Service, type Task } from '../../../proto/gen/objects.js';
import { silentLogger } from '../../common/logger.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { createTestStore, makeNode } from '../../store/testing/index.js';
import { networkHandlers } from '../controlapi/network-handlers.js';
import { serviceHandlers } from '../controlapi/service-handlers.js';
import { newTask } from '../orchestrator/task.js';
import { AllocatorAccess } from './allocator-access.js';
import { AllocatorLoop } from './allocator-loop.js';
import { ingressNetwork } from './ingress.js';

const ingressPort = (published: number) => ({ protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: published, publishMode: PublishMode.PUBLISH_MODE_INGRESS });

let store: ReplicatedStore;
let access: AllocatorAccess;
let loop: AllocatorLoop;
let networks: ReturnType<typeof networkHandlers>;
let services: ReturnType<typeof serviceHandlers>;

beforeEach(async () => {
  ({ store } = createTestStore());
  await store.update((tx) => tx.networks.create(ingressNetwork('ingress-id')));
  access = new AllocatorAccess();
  loop = new AllocatorLoop({ store, access, logger: silentLogger });
  loop.start();
  networks = networkHandlers({ store, allocator: access });
  services = serviceHandlers({ store, now: () => 0, allocator: access });
});

afterEach(() => loop.stop());

function spec(name: string, change: (s: ServiceSpec) => void = () => {}): ServiceSpec {
  const s = ServiceSpec.fromPartial({ annotations: { name }, task: { container: { image: 'nginx' } }, mode: { $case: 'replicated', replicated: { replicas: 3 } } });
  change(s);
  return s;
}

async function refusal(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'succeeded',
    (err: Error) => err.message,
  );
}

async function createTasks(service: Service, slots: number[]): Promise<Task[]> {
  const tasks = slots.map((slot) => newTask(service, { slot }, { now: 0 }));
  await store.update((tx) => tasks.forEach((t) => tx.tasks.create(t)));
  return tasks;
}

const stored = (id: string) => store.view((tx) => tx.tasks.get(id)!);

describe('networks in the control API', () => {
  it('creates overlay networks with a VNI, a subnet and a gateway, and refuses bad specs in one line each', async () => {
    const { network } = await networks.createNetwork({ spec: { annotations: { name: 'back', labels: {} }, driver: '', subnet: '', attachable: false, ingress: false } });
    expect(network).toMatchObject({ vni: 4097, subnet: '10.0.0.0/24', gateway: '10.0.0.1', spec: { driver: 'overlay' } });
    const create = (s: object) => refusal(networks.createNetwork({ spec: { annotations: { name: 'x', labels: {} }, driver: '', subnet: '', attachable: false, ingress: false, ...s } }));
    expect(await create({ annotations: { name: '', labels: {} } })).toBe('invalid spec: annotations.name: a network name is required');
    expect(await create({ annotations: { name: 'back', labels: {} } })).toBe('network back already exists');
    expect(await create({ driver: 'bridge' })).toBe('invalid spec: driver: "bridge" is not supported; only "overlay" is');
    expect(await create({ subnet: '10.1.0.0' })).toBe('invalid spec: subnet: invalid subnet "10.1.0.0": use CIDR notation, like 10.0.9.0/24');
    expect(await create({ subnet: '10.0.0.0/16' })).toBe('subnet 10.0.0.0/16 overlaps 10.0.0.0/24, which is in use');
    expect(await create({ ingress: true })).toBe('network ingress is already the ingress network; there can be only one');
    expect((await networks.getNetwork({ id: 'back' })).network?.meta?.id).toBe(network?.meta?.id);
    expect((await networks.listNetworks({ names: [] })).networks.map((n) => n.spec?.annotations?.name)).toEqual(['back', 'ingress']);
  });

  it('resolves service networks by name and refuses unknown networks, the ingress network and dnsrr with ingress ports', async () => {
    const { network } = await networks.createNetwork({ spec: { annotations: { name: 'back', labels: {} }, driver: '', subnet: '', attachable: false, ingress: false } });
    const { service } = await services.createService({ spec: spec('web', (s) => (s.task!.networks = [{ target: 'back', aliases: [] }])) });
    expect(service?.spec?.task?.networks[0]?.target).toBe(network?.meta?.id);
    expect(service?.endpoint?.virtualIps).toEqual([{ networkId: network?.meta?.id, address: '10.0.0.2/24' }]);
    expect(await refusal(services.createService({ spec: spec('a', (s) => (s.task!.networks = [{ target: 'nope', aliases: [] }])) }))).toBe(
      'invalid spec: task.networks[0].target: network nope not found',
    );
    expect(await refusal(services.createService({ spec: spec('b', (s) => (s.task!.networks = [{ target: 'ingress', aliases: [] }])) }))).toBe(
      'invalid spec: task.networks[0].target: ingress is the ingress network; publish ports to use it',
    );
    expect(await refusal(services.createService({ spec: spec('c', (s) => (s.endpoint = { mode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [ingressPort(8080)] })) }))).toBe(
      'invalid spec: endpoint.ports[0].publishMode: ingress ports cannot be published in dnsrr mode; use mode=host or the vip endpoint mode',
    );
    expect(store.view((tx) => tx.services.count())).toBe(1);
  });

  it('publishes ports: 0 gets the next free one, a taken one is refused naming its service, an update keeps them', async () => {
    const { service: web } = await services.createService({ spec: spec('web', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(0), { ...ingressPort(8080), targetPort: 81 }] })) });
    expect(web?.endpoint?.ports.map((p) => p.publishedPort)).toEqual([30000, 8080]);
    expect(await refusal(services.createService({ spec: spec('api', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(8080)] })) }))).toBe(
      'port 8080/tcp is already published by service web',
    );
    const next = spec('web', (s) => {
      s.endpoint = { mode: 0, ports: [ingressPort(0)] };
      s.mode = { $case: 'replicated', replicated: { replicas: 5 } };
    });
    const { service: updated } = await services.updateService({ id: 'web', version: web!.meta!.version, spec: next, rollback: false });
    expect(updated?.endpoint?.ports.map((p) => p.publishedPort)).toEqual([30000]);
    expect(updated?.endpoint?.virtualIps).toEqual(web?.endpoint?.virtualIps);
    // 8080 was dropped by the update: released once committed, another service may take it.
    const { service: api } = await services.createService({ spec: spec('api', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(8080)] })) });
    expect(api?.endpoint?.ports[0]?.publishedPort).toBe(8080);
  });
});

describe('AllocatorLoop', () => {
  it('gives NEW tasks distinct addresses and the endpoint, moves them to PENDING, and handles node attachments', async () => {
    const { network } = await networks.createNetwork({ spec: { annotations: { name: 'back', labels: {} }, driver: '', subnet: '10.7.0.0/24', attachable: false, ingress: false } });
    const netId = network!.meta!.id;
    const { service } = await services.createService({
      spec: spec('web', (s) => {
        s.task!.networks = [{ target: 'back', aliases: ['www'] }];
        s.endpoint = { mode: 0, ports: [ingressPort(0)] };
      }),
    });
    const tasks = await createTasks(service!, [1, 2, 3]);
    expect(tasks.every((t) => t.status?.state === TaskState.TASK_STATE_NEW)).toBe(true);
    await vi.waitFor(() => expect(tasks.map((t) => stored(t.meta!.id).status?.state)).toEqual([1, 1, 1].map(() => TaskState.TASK_STATE_PENDING)));
    const allocated = tasks.map((t) => stored(t.meta!.id));
    const backAddresses = allocated.map((t) => t.networks.find((n) => n.networkId === netId)!.address);
    expect(new Set(backAddresses).size).toBe(3);
    expect(backAddresses.every((a) => a.startsWith('10.7.0.') && a.endsWith('/24'))).toBe(true);
    expect(backAddresses).not.toContain(service!.endpoint!.virtualIps[0]!.address);
    expect(allocated.every((t) => t.networks.some((n) => n.networkId === 'ingress-id' && n.address.startsWith('10.255.')))).toBe(true);
    expect(allocated[0]!.networks[0]!.aliases).toEqual(['www']);
    expect(allocated[0]!.endpoint).toEqual(service!.endpoint);

    // Assigned to a node: the node gets its own address on the networks.
    await store.update((tx) => tx.nodes.create(makeNode('w1', 'n1')));
    await store.update((tx) => {
      const t = tx.tasks.get(allocated[0]!.meta!.id)!;
      tx.tasks.update({ ...t, nodeId: 'n1', status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED } });
    });
    await vi.waitFor(() => expect(store.view((tx) => tx.nodes.get('n1')!.attachments.map((a) => a.networkId).sort())).toEqual(['ingress-id', netId].sort()));
    const nodeAddress = store.view((tx) => tx.nodes.get('n1')!.attachments.find((a) => a.networkId === netId)!.address);
    expect(backAddresses).not.toContain(nodeAddress);

    // Removing the network is refused while the service uses it, then while its tasks hold addresses.
    expect(await refusal(networks.removeNetwork({ id: 'back' }))).toBe('network back is in use: used by service web');
    expect(await refusal(networks.removeNetwork({ id: 'ingress' }))).toBe('network ingress is in use: service web publishes ports through it');
    await services.removeService({ id: 'web' });
    expect(await refusal(networks.removeNetwork({ id: 'back' }))).toBe('network back is in use: 3 tasks still hold addresses on it; try again once they are removed');

    // The last task on the node goes: the node's attachments are released.
    await store.update((tx) => tasks.forEach((t) => tx.tasks.delete(tx.tasks.get(t.meta!.id)!)));
    await vi.waitFor(() => expect(store.view((tx) => tx.nodes.get('n1')!.attachments)).toEqual([]));
    await networks.removeNetwork({ id: 'back' });
    // Everything on 10.7.0.0/24 was given back with the network: it may be created again.
    const again = await networks.createNetwork({ spec: { annotations: { name: 'back2', labels: {} }, driver: '', subnet: '10.7.0.0/24', attachable: false, ingress: false } });
    expect(again.network?.subnet).toBe('10.7.0.0/24');
  });

  it('leaves tasks of services without networks alone: they are created PENDING', async () => {
    const { service } = await services.createService({ spec: spec('plain') });
    const [task] = await createTasks(service!, [1]);
    expect(task!.status?.state).toBe(TaskState.TASK_STATE_PENDING);
    expect(stored(task!.meta!.id).networks).toEqual([]);
  });

  it('never gives an address twice, across a restart of the loop (a new leader)', async () => {
    await networks.createNetwork({ spec: { annotations: { name: 'back', labels: {} }, driver: '', subnet: '10.8.0.0/28', attachable: false, ingress: false } });
    const { service } = await services.createService({ spec: spec('web', (s) => (s.task!.networks = [{ target: 'back', aliases: [] }])) });
    const first = await createTasks(service!, [1, 2, 3]);
    await vi.waitFor(() => expect(first.every((t) => stored(t.meta!.id).status?.state === TaskState.TASK_STATE_PENDING)).toBe(true));
    loop.stop();
    loop = new AllocatorLoop({ store, access, logger: silentLogger });
    loop.start();
    const second = await createTasks(service!, [4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await vi.waitFor(() => expect(second.every((t) => stored(t.meta!.id).status?.state === TaskState.TASK_STATE_PENDING)).toBe(true));
    const addresses = [...first, ...second].map((t) => stored(t.meta!.id).networks[0]!.address);
    addresses.push(store.view((tx) => tx.services.get(service!.meta!.id)!.endpoint!.virtualIps[0]!.address));
    expect(new Set(addresses).size).toBe(13);
    // The /28 has 13 host addresses after the gateway: the next task waits, saying why.
    const [blocked] = await createTasks(service!, [13]);
    await vi.waitFor(() => expect(stored(blocked!.meta!.id).status?.message).toMatch(/has no free address/));
    expect(stored(blocked!.meta!.id).status?.state).toBe(TaskState.TASK_STATE_NEW);
    await store.update((tx) => tx.tasks.delete(tx.tasks.get(first[0]!.meta!.id)!));
    await vi.waitFor(() => expect(stored(blocked!.meta!.id).status?.state).toBe(TaskState.TASK_STATE_PENDING));
  });
});

describe('AllocatorLoop: the routing mesh', () => {
  const ingressAddress = (nodeId: string) => store.view((tx) => tx.nodes.get(nodeId)?.attachments.find((a) => a.networkId === 'ingress-id')?.address);

  async function setNodeState(nodeId: string, state: NodeState): Promise<void> {
    await store.update((tx) => {
      const node = tx.nodes.get(nodeId)!;
      tx.nodes.update({ ...node, status: { state, message: '', addr: '' } });
    });
  }

  it('gives every node that is not down an ingress address while a service publishes ingress ports, and takes it back after', async () => {
    await store.update((tx) => {
      for (const id of ['n1', 'n2', 'n3']) tx.nodes.create(makeNode(id, id));
    });
    await setNodeState('n1', NodeState.NODE_STATE_READY);
    await setNodeState('n3', NodeState.NODE_STATE_DOWN);
    // Nothing published yet: nobody needs the mesh.
    await vi.waitFor(() => expect(loop.idle()).toBe(true));
    expect(['n1', 'n2', 'n3'].map(ingressAddress)).toEqual([undefined, undefined, undefined]);

    const { service: web } = await services.createService({ spec: spec('web', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(8080)] })) });
    await vi.waitFor(() => expect(ingressAddress('n1')).toMatch(/^10\.255\./));
    await vi.waitFor(() => expect(ingressAddress('n2')).toMatch(/^10\.255\./));
    expect(ingressAddress('n1')).not.toBe(ingressAddress('n2'));
    expect(ingressAddress('n1')).not.toBe(web!.endpoint!.virtualIps[0]!.address);
    expect(ingressAddress('n3')).toBeUndefined();

    // A node that joins, or comes back, takes part; one that goes down leaves.
    await store.update((tx) => tx.nodes.create(makeNode('n4', 'n4')));
    await setNodeState('n3', NodeState.NODE_STATE_READY);
    await setNodeState('n2', NodeState.NODE_STATE_DOWN);
    await vi.waitFor(() => expect(ingressAddress('n4')).toMatch(/^10\.255\./));
    await vi.waitFor(() => expect(ingressAddress('n3')).toMatch(/^10\.255\./));
    await vi.waitFor(() => expect(ingressAddress('n2')).toBeUndefined());

    // A new leader keeps them as they are, and gives none twice.
    loop.stop();
    loop = new AllocatorLoop({ store, access, logger: silentLogger });
    loop.start();
    const held = ['n1', 'n3', 'n4'].map(ingressAddress);
    await store.update((tx) => tx.nodes.create(makeNode('n5', 'n5')));
    await vi.waitFor(() => expect(ingressAddress('n5')).toMatch(/^10\.255\./));
    expect(['n1', 'n3', 'n4'].map(ingressAddress)).toEqual(held);
    expect(new Set([...held, ingressAddress('n5')]).size).toBe(4);

    // A second publisher changes nothing; the last one to stop publishing takes the mesh away.
    const { service: api } = await services.createService({ spec: spec('api', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(0)] })) });
    await services.removeService({ id: web!.meta!.id });
    await vi.waitFor(() => expect(loop.idle()).toBe(true));
    expect(['n1', 'n3', 'n4', 'n5'].map(ingressAddress)).toEqual([...held, ingressAddress('n5')]);
    await services.updateService({ id: api!.meta!.id, version: api!.meta!.version, spec: spec('api'), rollback: false });
    await vi.waitFor(() => expect(['n1', 'n2', 'n3', 'n4', 'n5'].map(ingressAddress)).toEqual([undefined, undefined, undefined, undefined, undefined]));
  });

  it('keeps a node’s ingress address while a task of a publishing service may run there, even when the node is down', async () => {
    await store.update((tx) => tx.nodes.create(makeNode('n1', 'n1')));
    const { service } = await services.createService({ spec: spec('web', (s) => (s.endpoint = { mode: 0, ports: [ingressPort(8080)] })) });
    const [task] = await createTasks(service!, [1]);
    await vi.waitFor(() => expect(stored(task!.meta!.id).status?.state).toBe(TaskState.TASK_STATE_PENDING));
    await store.update((tx) => {
      const t = tx.tasks.get(task!.meta!.id)!;
      tx.tasks.update({ ...t, nodeId: 'n1', status: { ...t.status!, state: TaskState.TASK_STATE_RUNNING } });
    });
    await vi.waitFor(() => expect(ingressAddress('n1')).toMatch(/^10\.255\./));
    const address = ingressAddress('n1');
    await setNodeState('n1', NodeState.NODE_STATE_DOWN);
    await vi.waitFor(() => expect(loop.idle()).toBe(true));
    expect(ingressAddress('n1')).toBe(address);
  });
});
