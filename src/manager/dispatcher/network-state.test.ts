import { beforeEach, describe, expect, it } from 'vitest';
import type { NetworkState } from '../../../proto/gen/dispatcher.js';
import { HealthState, Network, Node, PortProtocol, PublishMode, Service, Task, TaskState } from '../../../proto/gen/objects.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { createTestStore } from '../../store/testing/index.js';
import type { StoreEvent } from '../../store/types.js';
import { ingressNetwork } from '../allocator/ingress.js';
import { NetworkStates } from './network-states.js';

const RUNNING = TaskState.TASK_STATE_RUNNING;

let store: ReplicatedStore;
let states: NetworkStates;
/** Events since the last observe(), as the dispatcher's watch would pass them. */
let events: StoreEvent[];

function network(id: string, third: number, vni: number): Network {
  return Network.fromPartial({ meta: { id }, spec: { annotations: { name: id }, driver: 'overlay' }, vni, subnet: `10.0.${third}.0/24`, gateway: `10.0.${third}.1` });
}

function node(id: string, addr: string, attachments: [string, string][] = []): Node {
  return Node.fromPartial({ meta: { id }, status: { addr }, attachments: attachments.map(([networkId, address]) => ({ networkId, address })) });
}

interface TaskFields {
  serviceId: string;
  nodeId: string;
  addresses: [string, string][];
  state?: TaskState;
  desiredState?: TaskState;
  health?: HealthState;
}

function task(id: string, f: TaskFields): Task {
  return Task.fromPartial({
    meta: { id },
    serviceId: f.serviceId,
    slot: 1,
    nodeId: f.nodeId,
    desiredState: f.desiredState ?? RUNNING,
    status: { state: f.state ?? RUNNING, health: f.health ?? HealthState.HEALTH_STATE_NONE },
    networks: f.addresses.map(([networkId, address]) => ({ networkId, address })),
  });
}

function service(id: string, vips: [string, string][], publish = false): Service {
  const ports = publish ? [{ protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS }] : [];
  return Service.fromPartial({
    meta: { id },
    spec: { annotations: { name: id }, endpoint: { ports } },
    endpoint: { spec: { ports }, ports, virtualIps: vips.map(([networkId, address]) => ({ networkId, address })) },
  });
}

async function put(objects: { tasks?: Task[]; nodes?: Node[]; services?: Service[] }): Promise<void> {
  await store.update((tx) => {
    const upsert = <T extends { meta?: { id: string; version: number } }>(table: { get(id: string): T | undefined; create(o: T): void; update(o: T): void }, o: T) => {
      const existing = table.get(o.meta!.id);
      if (existing) table.update({ ...o, meta: { ...o.meta!, version: existing.meta!.version } });
      else table.create(o);
    };
    for (const t of objects.tasks ?? []) upsert(tx.tasks, t);
    for (const n of objects.nodes ?? []) upsert(tx.nodes, n);
    for (const s of objects.services ?? []) upsert(tx.services, s);
  });
}

/** What changed for the nodes already sent a state, after the events so far. */
function changes(): Map<string, NetworkState> {
  states.observe(events.splice(0));
  return store.view((tx) => states.changes(tx));
}

const first = (nodeId: string) => store.view((tx) => states.first(tx, nodeId));
const peers = (s: NetworkState | undefined, networkId: string) => s?.networks.find((n) => n.network?.meta?.id === networkId)?.peers.map((p) => `${p.address}@${p.underlayAddress}`);
const serviceTasks = (s: NetworkState | undefined) => s?.services.map((e) => [e.serviceId, e.tasks.map((t) => t.taskId)]);

beforeEach(async () => {
  ({ store } = createTestStore());
  events = [];
  store.watch((batch) => events.push(...batch));
  await store.update((tx) => {
    tx.networks.create(ingressNetwork('ingress'));
    tx.networks.create(network('back', 0, 4097));
    tx.networks.create(network('other', 1, 4098));
  });
  await put({
    nodes: [
      node('n1', '192.0.2.1', [['back', '10.0.0.10/24']]),
      node('n2', '192.0.2.2', [
        ['back', '10.0.0.11/24'],
        ['other', '10.0.1.11/24'],
      ]),
      // Joined, but no session has told the managers where it is yet.
      node('n3', '', [['back', '10.0.0.12/24']]),
    ],
    services: [service('web', [['back', '10.0.0.2/24']]), service('api', [['other', '10.0.1.2/24']])],
    tasks: [
      task('t1', { serviceId: 'web', nodeId: 'n1', addresses: [['back', '10.0.0.3/24']] }),
      task('t2', { serviceId: 'web', nodeId: 'n2', addresses: [['back', '10.0.0.4/24']], health: HealthState.HEALTH_STATE_HEALTHY }),
      task('t3', { serviceId: 'web', nodeId: 'n2', addresses: [['back', '10.0.0.5/24']], state: TaskState.TASK_STATE_STARTING }),
      task('t4', { serviceId: 'web', nodeId: 'n3', addresses: [['back', '10.0.0.6/24']] }),
      task('t5', { serviceId: 'web', nodeId: 'n2', addresses: [['back', '10.0.0.7/24']], state: TaskState.TASK_STATE_FAILED, desiredState: TaskState.TASK_STATE_SHUTDOWN }),
      task('t6', { serviceId: 'web', nodeId: 'n2', addresses: [['back', '10.0.0.8/24']], health: HealthState.HEALTH_STATE_UNHEALTHY }),
      task('t7', { serviceId: 'api', nodeId: 'n2', addresses: [['other', '10.0.1.3/24']] }),
    ],
  });
  states = new NetworkStates();
  store.view((tx) => states.reset(tx));
  events = [];
});

describe('a node’s network state', () => {
  it('holds the networks of its tasks with its own address, peers on other nodes with a known address, and services with their up tasks', () => {
    const s = first('n1');
    expect(s.underlayAddress).toBe('192.0.2.1');
    expect(s.networks.map((n) => [n.network?.meta?.id, n.network?.vni, n.nodeAddress])).toEqual([['back', 4097, '10.0.0.10/24']]);
    // Its own task t1 is no peer; t5 has stopped; n3 and its task t4 have no known underlay address.
    expect(peers(s, 'back')).toEqual(['10.0.0.11/24@192.0.2.2', '10.0.0.4/24@192.0.2.2', '10.0.0.5/24@192.0.2.2', '10.0.0.8/24@192.0.2.2']);
    // api is only on a network n1 is not on. t3 is still starting, t6 unhealthy, t5 stopped.
    expect(serviceTasks(s)).toEqual([['web', ['t1', 't2', 't4']]]);
    expect(s.services[0]).toMatchObject({ name: 'web', virtualIps: [{ networkId: 'back', address: '10.0.0.2/24' }] });
    expect(s.services[0]?.tasks[1]).toMatchObject({ taskId: 't2', nodeId: 'n2', addresses: [{ networkId: 'back', address: '10.0.0.4/24' }] });

    const n2 = first('n2');
    expect(n2.networks.map((n) => n.network?.meta?.id)).toEqual(['back', 'other']);
    expect(peers(n2, 'back')).toEqual(['10.0.0.10/24@192.0.2.1', '10.0.0.3/24@192.0.2.1']);
    expect(peers(n2, 'other')).toEqual([]);
    expect(serviceTasks(n2)).toEqual([
      ['api', ['t7']],
      ['web', ['t1', 't2', 't4']],
    ]);
  });

  it('changes when a task elsewhere becomes RUNNING, and not for a change no state shows', async () => {
    first('n1');
    first('n2');
    const t3 = store.view((tx) => tx.tasks.get('t3')!);
    // A status message, or a step before RUNNING, shows nowhere.
    await put({ tasks: [{ ...t3, status: { ...t3.status!, message: 'starting the container' } }] });
    expect(changes().size).toBe(0);

    await put({ tasks: [{ ...t3, status: { ...t3.status!, state: RUNNING } }] });
    const changed = changes();
    expect([...changed.keys()].sort()).toEqual(['n1', 'n2']);
    expect(serviceTasks(changed.get('n1'))).toEqual([['web', ['t1', 't2', 't3', 't4']]]);
    expect(changes().size).toBe(0);

    // A change on a network n1 is not on concerns n2 only.
    const t7 = store.view((tx) => tx.tasks.get('t7')!);
    await put({ tasks: [{ ...t7, desiredState: TaskState.TASK_STATE_SHUTDOWN }] });
    const other = changes();
    expect([...other.keys()]).toEqual(['n2']);
    expect(serviceTasks(other.get('n2'))).toEqual([
      ['api', []],
      ['web', ['t1', 't2', 't3', 't4']],
    ]);
  });

  it('adds a node as a peer once its address is known, and follows a task placed on the node', async () => {
    first('n1');
    await put({ nodes: [node('n3', '192.0.2.3', [['back', '10.0.0.12/24']])] });
    const changed = changes();
    expect(peers(changed.get('n1'), 'back')).toContain('10.0.0.12/24@192.0.2.3');
    expect(peers(changed.get('n1'), 'back')).toContain('10.0.0.6/24@192.0.2.3');

    // A task of api lands on n1: n1 is on `other` now, and sees api.
    await put({ tasks: [task('t8', { serviceId: 'api', nodeId: 'n1', addresses: [['other', '10.0.1.4/24']], state: TaskState.TASK_STATE_ASSIGNED })] });
    const s = changes().get('n1');
    expect(s?.networks.map((n) => [n.network?.meta?.id, n.nodeAddress])).toEqual([
      ['back', '10.0.0.10/24'],
      ['other', ''],
    ]);
    expect(peers(s, 'other')).toEqual(['10.0.1.11/24@192.0.2.2', '10.0.1.3/24@192.0.2.2']);
    expect(serviceTasks(s)?.map(([id]) => id)).toEqual(['api', 'web']);
  });

  it('puts every node on the ingress network while a service publishes ingress ports', async () => {
    first('n1');
    first('n2');
    await put({ services: [service('edge', [['ingress', '10.255.0.2/16']], true)] });
    const on = changes();
    expect([...on.keys()].sort()).toEqual(['n1', 'n2']);
    for (const s of on.values()) {
      expect(s.networks.find((n) => n.network?.meta?.id === 'ingress')).toMatchObject({ network: { vni: 4096 }, nodeAddress: '', peers: [] });
      expect(s.services.map((e) => e.serviceId)).toContain('edge');
    }
    // The allocator gives the nodes their ingress addresses: each sees the other's.
    const n1 = store.view((tx) => tx.nodes.get('n1')!);
    const n2 = store.view((tx) => tx.nodes.get('n2')!);
    await put({
      nodes: [
        { ...n1, attachments: [...n1.attachments, { networkId: 'ingress', address: '10.255.0.3/16', aliases: [] }] },
        { ...n2, attachments: [...n2.attachments, { networkId: 'ingress', address: '10.255.0.4/16', aliases: [] }] },
      ],
    });
    const addressed = changes();
    expect(addressed.get('n1')?.networks.find((n) => n.network?.meta?.id === 'ingress')?.nodeAddress).toBe('10.255.0.3/16');
    expect(peers(addressed.get('n1'), 'ingress')).toEqual(['10.255.0.4/16@192.0.2.2']);

    // The last publisher goes: the ingress network leaves every node's state.
    await store.update((tx) => tx.services.delete(tx.services.get('edge')!));
    const off = changes();
    expect([...off.keys()].sort()).toEqual(['n1', 'n2']);
    expect(off.get('n1')?.networks.map((n) => n.network?.meta?.id)).toEqual(['back']);
  });
});

describe('network states at scale', () => {
  it('at 1,000 nodes on 10 networks, a task change on one network recomputes only the 100 nodes on it', async () => {
    ({ store } = createTestStore());
    events = [];
    store.watch((batch) => events.push(...batch));
    await store.update((tx) => {
      for (let n = 0; n < 10; n++) {
        tx.networks.create(network(`net${n}`, n, 5000 + n));
        tx.services.create(service(`svc${n}`, [[`net${n}`, `10.0.${n}.2/24`]]));
      }
      for (let i = 0; i < 1000; i++) {
        const n = i % 10;
        const host = Math.floor(i / 10) + 10;
        tx.nodes.create(node(`node${i}`, `192.0.2.${i % 250}`, [[`net${n}`, `10.0.${n}.${host}/24`]]));
        tx.tasks.create(task(`task${i}`, { serviceId: `svc${n}`, nodeId: `node${i}`, addresses: [[`net${n}`, `10.0.${n}.${host + 100}/24`]] }));
      }
    });
    states = new NetworkStates();
    store.view((tx) => states.reset(tx));
    for (let i = 0; i < 1000; i++) first(`node${i}`);
    events = [];

    const t = store.view((tx) => tx.tasks.get('task3')!);
    await put({ tasks: [{ ...t, desiredState: TaskState.TASK_STATE_SHUTDOWN }] });
    states.observe(events.splice(0));
    let recomputed = 0;
    const changed = store.view((tx) => {
      // Each node's state starts from its own tasks: count those reads.
      const tasks = new Proxy(tx.tasks, {
        get: (target, key, receiver) => {
          const value: unknown = Reflect.get(target, key, receiver);
          if (key === 'byNode') return (nodeId: string) => (recomputed++, target.byNode(nodeId));
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      return states.changes({ clusters: tx.clusters, nodes: tx.nodes, services: tx.services, networks: tx.networks, secrets: tx.secrets, configs: tx.configs, tasks });
    });
    expect(recomputed).toBe(100);
    expect(changed.size).toBe(100);
    expect([...changed.keys()].every((id) => Number(id.slice(4)) % 10 === 3)).toBe(true);
  });
});
