/**
 * Overlay network allocation with real manager processes, through the Control API (the CLI's
 * `shoal network` commands come separately): the ingress network exists from init; a service on
 * a network gets a VIP and its tasks distinct addresses in the subnet once real workers run them;
 * after the leader of three is killed, the new leader gives out no address or VNI twice; a network
 * in use cannot be removed. The managers push each node its network state: two fake nodes (the
 * agent does not read it yet, the simulator keeps it) running a service's two replicas each see
 * the other's task and own address as peers, and the service with both tasks.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlApi } from '../../cmd/cli/client.js';
import { NetworkSpec, ServiceSpec, TaskState, type Task } from '../../proto/gen/objects.js';
import { FakeNodeSimulator } from '../support/node-simulator.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { WorkerProcess } from '../support/worker-process.js';

let cluster: TestCluster;
const workers: WorkerProcess[] = [];
const fakeNodes: FakeNodeSimulator[] = [];

/** A client over every live manager's socket, failing over as the CLI does. */
function control(): ControlApi {
  return new ControlApi(
    cluster.managers
      .filter((m) => m.alive)
      .map((m) => `unix://${m.socket}`)
      .join(','),
  );
}

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 3 });
  for (const name of ['na', 'nb']) {
    workers.push(WorkerProcess.start({ dir: join(cluster.root, name), managers: cluster.addresses, token: cluster.workerToken, hostname: name }));
  }
}, 120_000);

afterAll(async () => {
  for (const node of fakeNodes) await node.stop();
  for (const worker of workers) {
    await worker.stop();
    worker.killTasks();
  }
  await cluster?.close();
});

const networkSpec = (name: string) => NetworkSpec.fromPartial({ annotations: { name } });
const serviceSpec = (name: string, replicas: number) =>
  ServiceSpec.fromPartial({
    annotations: { name },
    task: { container: { image: 'app:1' }, networks: [{ target: 'back' }] },
    mode: { $case: 'replicated', replicated: { replicas } },
  });

async function runningTasks(api: ControlApi, serviceId: string, count: number): Promise<Task[]> {
  let tasks: Task[] = [];
  await waitFor(`${count} running tasks`, async () => {
    tasks = (await api.listTasks({ serviceIds: [serviceId] })).filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING);
    return tasks.length === count;
  }, 60_000, 200);
  return tasks;
}

describe('overlay networks', () => {
  it('allocates networks, VIPs and task addresses, none twice across a leader failover', async () => {
    const api = control();
    const ingress = (await api.listNetworks()).find((n) => n.spec?.ingress);
    expect(ingress).toMatchObject({ subnet: '10.255.0.0/16', vni: 4096, spec: { annotations: { name: 'ingress' } } });

    const back = await api.createNetwork(networkSpec('back'));
    expect(back.subnet).toMatch(/^10\.0\.\d+\.0\/24$/);
    const web = await api.createService(serviceSpec('web', 3));
    const vip = web.endpoint?.virtualIps[0]?.address ?? '';
    const prefix = back.subnet.split('.').slice(0, 3).join('.') + '.';
    expect(vip.startsWith(prefix)).toBe(true);
    const first = await runningTasks(api, web.meta!.id, 3);
    const addresses = first.map((t) => t.networks[0]?.address ?? '');
    expect(new Set([...addresses, vip]).size).toBe(4);
    expect(addresses.every((a) => a.startsWith(prefix))).toBe(true);

    const leader = await cluster.waitForLeader();
    await leader.kill();
    await cluster.waitForLeader();
    const after = control();
    const other = await after.createNetwork(networkSpec('other'));
    expect(other.vni).not.toBe(back.vni);
    expect(other.subnet).not.toBe(back.subnet);
    const api2 = await after.createService(serviceSpec('api', 2));
    const second = await runningTasks(after, api2.meta!.id, 2);
    const all = [...addresses, vip, api2.endpoint?.virtualIps[0]?.address ?? '', ...second.map((t) => t.networks[0]?.address ?? '')];
    expect(new Set(all).size).toBe(all.length);

    await expect(after.removeNetwork('back')).rejects.toThrow(/network back is in use: used by services api, web/);
  }, 180_000);
});

describe('network states', () => {
  it('tells each node of a service spread over two its peers on the overlay and the service’s tasks', async () => {
    for (const hostname of ['sa', 'sb']) {
      const node = new FakeNodeSimulator({ managers: cluster.addresses, joinToken: cluster.workerToken, hostname, labels: { sim: 'yes' } });
      fakeNodes.push(node);
      await node.start();
    }
    const api = control();
    const mesh = await api.createNetwork(networkSpec('mesh'));
    const spec = ServiceSpec.fromPartial({
      annotations: { name: 'spread' },
      task: { container: { image: 'app:1' }, networks: [{ target: 'mesh' }], placement: { constraints: ['engine.labels.sim==yes'], maxReplicas: 1 } },
      mode: { $case: 'replicated', replicated: { replicas: 2 } },
    });
    const service = await api.createService(spec);
    const tasks = await runningTasks(api, service.meta!.id, 2);
    const byNode = new Map(tasks.map((t) => [t.nodeId, t.networks.find((n) => n.networkId === mesh.meta!.id)?.address ?? '']));
    expect([...byNode.keys()].sort()).toEqual(fakeNodes.map((n) => n.id).sort());

    const stateOf = (node: FakeNodeSimulator) => node.networkState();
    const meshOf = (node: FakeNodeSimulator) => stateOf(node)?.networks.find((n) => n.network?.meta?.id === mesh.meta!.id);
    const upTasks = (node: FakeNodeSimulator) => stateOf(node)?.services.find((s) => s.serviceId === service.meta!.id)?.tasks.length ?? 0;
    await waitFor('both nodes’ states', () => fakeNodes.every((n) => meshOf(n)?.nodeAddress !== '' && meshOf(n)?.peers.length === 2 && upTasks(n) === 2), 30_000, 100);
    for (const [i, node] of fakeNodes.entries()) {
      const other = fakeNodes[1 - i]!;
      const ownAddress = meshOf(node)!.nodeAddress;
      expect(stateOf(node)?.underlayAddress).toBe('127.0.0.1');
      expect(meshOf(node)?.network).toMatchObject({ vni: mesh.vni, subnet: mesh.subnet });
      expect(meshOf(node)?.peers.map((p) => p.address).sort()).toEqual([byNode.get(other.id), meshOf(other)!.nodeAddress].sort());
      expect(meshOf(node)?.peers.every((p) => p.underlayAddress === '127.0.0.1')).toBe(true);
      expect(ownAddress).not.toBe(meshOf(other)!.nodeAddress);
      const endpoints = stateOf(node)?.services.find((s) => s.serviceId === service.meta!.id);
      expect(endpoints).toMatchObject({ name: 'spread', virtualIps: service.endpoint!.virtualIps });
      expect(endpoints?.tasks.map((t) => t.nodeId).sort()).toEqual(fakeNodes.map((n) => n.id).sort());
    }
  }, 120_000);
});
