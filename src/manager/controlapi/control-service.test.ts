import { join } from 'node:path';
import { Metadata, status, type Server } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../../proto/gen/control.js';
import {
  Cluster,
  Node,
  NodeAvailability,
  NodeRole,
  NodeState,
  ServiceSpec,
  TaskState,
  UpdateState,
  type Service,
} from '../../../proto/gen/objects.js';
import { silentLogger } from '../../common/logger.js';
import { ID_LENGTH } from '../../common/ids.js';
import type { PeerStatus } from '../../raft/transport/grpc.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { createTestStore, makeNode, makeService, makeTask, type FakeProposer } from '../../store/testing/index.js';
import { NotLeaderError } from '../../store/types.js';
import { createCaState, roleForJoinToken, type CaState } from '../ca/ca-state.js';
import { createControlService } from './control-service.js';
import { DEFAULT_UPDATE_CONFIG } from './spec-defaults.js';
import { FORWARDED_METADATA, LeaderForwarder } from '../leader-forwarder.js';
import type { ControlMethod, RequestOf } from './control-service.js';
import { callControl, controlClient, FakeRaftInfo, serveControl, socketDir, stopServer } from './testing/control-harness.js';

const NOW = 1_700_000_000_000;

let store: ReplicatedStore;
let proposer: FakeProposer;
let raft: FakeRaftInfo;
let peers: PeerStatus[];
let forwarder: LeaderForwarder;
let server: Server;
let client: ControlClient;
let cleanup: () => void;
/** What the leader's read confirmation does; a quorum confirms unless a test says otherwise. */
let readConfirmation: () => Promise<unknown>;

beforeEach(async () => {
  ({ store, proposer } = createTestStore({ now: () => NOW }));
  readConfirmation = () => Promise.resolve();
  raft = new FakeRaftInfo('m1', [
    { id: 'm1', address: 'unix:///m1.sock', suffrage: 'voter' },
    { id: 'm2', address: 'unix:///m2.sock', suffrage: 'voter' },
    { id: 'm3', address: 'unix:///m3.sock', suffrage: 'nonvoter' },
  ]);
  peers = [
    { id: 'm2', address: 'unix:///m2.sock', connected: true, queued: 0, dropped: 0 },
    { id: 'm3', address: 'unix:///m3.sock', connected: false, queued: 4, dropped: 0 },
  ];
  forwarder = new LeaderForwarder({ raft, waitForLeaderMs: 200 });
  const dirs = socketDir();
  const socket = join(dirs.dir, 'control.sock');
  const impl = createControlService({
    store,
    raft,
    raftId: 'm1',
    raftPeerStatus: () => peers,
    forwarder,
    confirmRead: () => readConfirmation(),
    logger: silentLogger,
    now: () => NOW + 5,
  });
  server = await serveControl(impl, socket);
  client = controlClient(socket);
  cleanup = dirs.cleanup;
});

afterEach(async () => {
  client.close();
  forwarder.close();
  await stopServer(server);
  cleanup();
});

function call<M extends ControlMethod>(method: M, request: RequestOf<M>, metadata?: Metadata) {
  return callControl(client, method, request, metadata);
}

async function refusal<M extends ControlMethod>(method: M, request: RequestOf<M>, metadata?: Metadata): Promise<{ code: number; details: string }> {
  try {
    await call(method, request, metadata);
  } catch (err) {
    const { code, details } = err as { code: number; details: string };
    return { code, details };
  }
  throw new Error(`${method} succeeded`);
}

function spec(name: string, change: (s: ServiceSpec) => void = () => {}): ServiceSpec {
  const s = ServiceSpec.fromPartial({
    annotations: { name, labels: { tier: 'front', team: 'a' } },
    task: { container: { image: 'nginx:1.25' } },
    mode: { $case: 'replicated', replicated: { replicas: 2 } },
  });
  change(s);
  return s;
}

async function create(name: string, change?: (s: ServiceSpec) => void): Promise<Service> {
  const { service } = await call('createService', { spec: spec(name, change) });
  return service!;
}

const serviceCount = () => store.view((tx) => tx.services.count());

/** The Cluster object as a leader creates it, with `ca` if given; resolves with the stored CA state. */
async function createCluster(ca?: CaState): Promise<CaState | undefined> {
  await store.update((tx) =>
    tx.clusters.create(
      Cluster.fromPartial({ meta: { id: 'c1' }, spec: { annotations: { name: 'default', labels: {} }, taskHistoryRetentionLimit: 5, heartbeatPeriodMs: 5000 }, ca }),
    ),
  );
  return store.view((tx) => tx.clusters.all()[0]!.ca);
}

describe('CreateService', () => {
  it('stores a validated service with defaults, a fresh id and spec version 1', async () => {
    const service = await create('web');
    expect(service.meta?.id).toMatch(new RegExp(`^[a-z0-9]{${ID_LENGTH}}$`));
    expect(service.meta?.version).toBeGreaterThan(0);
    expect(service.meta?.createdAt).toBe(NOW);
    expect(service.specVersion).toBe(1);
    expect(service.updateStatus).toBeUndefined();
    expect(service.previousSpec).toBeUndefined();
    expect(service.spec?.update?.monitorMs).toBe(5000);
    expect(service.spec?.task?.restart?.delayMs).toBe(5000);
    expect(store.view((tx) => tx.services.byName('web')?.meta?.id)).toBe(service.meta?.id);
  });

  it('refuses an invalid spec with the one message, writing nothing', async () => {
    const proposals = proposer.proposals.length;
    expect(await refusal('createService', { spec: spec('web', (s) => (s.task!.container!.image = '')) })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid spec: task.container.image: required',
    });
    expect(await refusal('createService', { spec: undefined })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid spec: annotations.name: required',
    });
    expect(serviceCount()).toBe(0);
    expect(proposer.proposals.length).toBe(proposals);
  });

  it('refuses a name that is taken', async () => {
    await create('web');
    expect(await refusal('createService', { spec: spec('web') })).toEqual({ code: status.ALREADY_EXISTS, details: 'service web already exists' });
    expect(serviceCount()).toBe(1);
  });

  it('reports a name taken by a concurrent create as ALREADY_EXISTS', async () => {
    proposer.hold();
    const first = call('createService', { spec: spec('web') });
    const second = refusal('createService', { spec: spec('web') });
    await new Promise((resolve) => setTimeout(resolve, 100));
    proposer.release();
    await first;
    expect(await second).toEqual({ code: status.ALREADY_EXISTS, details: 'service web already exists' });
  });
});

describe('GetService and lookups', () => {
  it('finds a service by id, name or unique id prefix', async () => {
    const service = await create('web');
    const id = service.meta!.id;
    for (const ref of [id, 'web', id.slice(0, 6)]) {
      expect((await call('getService', { id: ref })).service?.meta?.id).toBe(id);
    }
  });

  it('says NOT_FOUND for nothing, FAILED_PRECONDITION for an ambiguous prefix', async () => {
    await store.update((tx) => {
      tx.services.create(makeService('a', 1, 'abc1xxxxxxxxxxxxxxxxxxxxx'));
      tx.services.create(makeService('b', 1, 'abc2xxxxxxxxxxxxxxxxxxxxx'));
    });
    expect(await refusal('getService', { id: 'nope' })).toEqual({ code: status.NOT_FOUND, details: 'service nope not found' });
    expect(await refusal('getService', { id: 'abc' })).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'service abc is ambiguous (2 services match); use a longer id',
    });
    expect((await call('getService', { id: 'abc2' })).service?.spec?.annotations?.name).toBe('b');
    expect(await refusal('getService', { id: '' })).toEqual({ code: status.INVALID_ARGUMENT, details: 'a service id or name is required' });
  });
});

describe('UpdateService', () => {
  it('puts the new spec in force, keeps the old one as previousSpec and starts the update', async () => {
    const created = await create('web');
    const next = spec('web', (s) => (s.task!.container!.image = 'nginx:1.26'));
    const { service } = await call('updateService', { id: 'web', version: created.meta!.version, spec: next, rollback: false });
    expect(service?.spec?.task?.container?.image).toBe('nginx:1.26');
    expect(service?.previousSpec?.task?.container?.image).toBe('nginx:1.25');
    expect(service?.specVersion).toBe(2);
    expect(service?.meta?.version).toBeGreaterThan(created.meta!.version);
    expect(service?.updateStatus).toEqual({ state: UpdateState.UPDATE_STATE_UPDATING, startedAt: NOW + 5, completedAt: 0, message: 'update in progress' });
  });

  it('changes nothing when the spec is the same, whatever order its labels come in', async () => {
    const created = await create('web');
    const proposals = proposer.proposals.length;
    const reordered = spec('web', (s) => (s.annotations!.labels = { team: 'a', tier: 'front' }));
    const { service } = await call('updateService', { id: 'web', version: created.meta!.version, spec: reordered, rollback: false });
    expect(service).toEqual(created);
    expect(proposer.proposals.length).toBe(proposals);
  });

  it('refuses an update based on an old version', async () => {
    const created = await create('web');
    const next = spec('web', (s) => (s.mode = { $case: 'replicated', replicated: { replicas: 5 } }));
    expect(await refusal('updateService', { id: 'web', version: created.meta!.version - 1, spec: next, rollback: false })).toEqual({
      code: status.ABORTED,
      details: `update out of sequence: service web is at version ${created.meta!.version}, the update was based on version ${
        created.meta!.version - 1
      }; read it again and retry`,
    });
  });

  it('turns a conflict found when the transaction applies into ABORTED', async () => {
    const created = await create('web');
    proposer.hold();
    const version = created.meta!.version;
    const first = call('updateService', { id: 'web', version, spec: spec('web', (s) => (s.task!.container!.image = 'a:1')), rollback: false });
    const second = refusal('updateService', { id: 'web', version, spec: spec('web', (s) => (s.task!.container!.image = 'b:1')), rollback: false });
    await new Promise((resolve) => setTimeout(resolve, 100));
    proposer.release();
    await first;
    const { code, details } = await second;
    expect(code).toBe(status.ABORTED);
    expect(details).toMatch(/; read it again and retry$/);
    expect(store.view((tx) => tx.services.byName('web')?.spec?.task?.container?.image)).toBe('a:1');
  });

  it('refuses invalid specs, renames and mode changes without writing', async () => {
    const created = await create('web');
    const version = created.meta!.version;
    expect(
      await refusal('updateService', { id: 'web', version, spec: spec('web', (s) => (s.update = { ...DEFAULT_UPDATE_CONFIG, maxFailureRatio: 2 })), rollback: false }),
    ).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid spec: update.maxFailureRatio: 2: must be between 0 and 1' });
    expect(await refusal('updateService', { id: 'web', version, spec: spec('www'), rollback: false })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid spec: annotations.name: renaming service web is not supported',
    });
    expect(await refusal('updateService', { id: 'web', version, spec: spec('web', (s) => (s.mode = { $case: 'global', global: {} })), rollback: false })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid spec: mode: service web is replicated; its mode cannot change (remove it and create it again)',
    });
    expect(store.view((tx) => tx.services.byName('web'))).toEqual(created);
  });

  it('rolls back by hand: swaps spec and previous spec', async () => {
    const created = await create('web');
    expect(await refusal('updateService', { id: 'web', version: created.meta!.version, spec: undefined, rollback: true })).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'service web has no previous spec to roll back to',
    });
    const { service: updated } = await call('updateService', {
      id: 'web',
      version: created.meta!.version,
      spec: spec('web', (s) => (s.task!.container!.image = 'nginx:2')),
      rollback: false,
    });
    const { service } = await call('updateService', { id: created.meta!.id, version: updated!.meta!.version, spec: undefined, rollback: true });
    expect(service?.spec).toEqual(created.spec);
    expect(service?.previousSpec).toEqual(updated?.spec);
    expect(service?.specVersion).toBe(3);
    expect(service?.updateStatus).toEqual({
      state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED,
      startedAt: NOW + 5,
      completedAt: 0,
      message: 'manually requested rollback',
    });
  });
});

describe('RemoveService and ListServices', () => {
  it('removes a service by name', async () => {
    await create('web');
    await call('removeService', { id: 'web' });
    expect(serviceCount()).toBe(0);
    expect(await refusal('removeService', { id: 'web' })).toEqual({ code: status.NOT_FOUND, details: 'service web not found' });
  });

  it('filters by names and labels and sorts by name', async () => {
    await create('web');
    await create('api', (s) => (s.annotations!.labels = { tier: 'back' }));
    await create('db', (s) => (s.annotations!.labels = {}));
    const names = async (req: RequestOf<'listServices'>) => (await call('listServices', req)).services.map((s) => s.spec?.annotations?.name);
    expect(await names({ names: [], labels: {} })).toEqual(['api', 'db', 'web']);
    expect(await names({ names: ['web', 'db', 'zzz'], labels: {} })).toEqual(['db', 'web']);
    expect(await names({ names: [], labels: { tier: '' } })).toEqual(['api', 'web']);
    expect(await names({ names: [], labels: { tier: 'back' } })).toEqual(['api']);
    expect(await names({ names: ['web'], labels: { tier: 'back' } })).toEqual([]);
  });

  it('counts running and desired tasks for replicated and global services', async () => {
    const web = await create('web', (s) => (s.mode = { $case: 'replicated', replicated: { replicas: 3 } }));
    const agent = await create('agent', (s) => (s.mode = { $case: 'global', global: {} }));
    const running = TaskState.TASK_STATE_RUNNING;
    await store.update((tx) => {
      const webId = web.meta!.id;
      const agentId = agent.meta!.id;
      tx.tasks.create(makeTask({ serviceId: webId, slot: 1, nodeId: 'n1', state: running }));
      tx.tasks.create(makeTask({ serviceId: webId, slot: 2, nodeId: 'n2', state: TaskState.TASK_STATE_STARTING }));
      tx.tasks.create(makeTask({ serviceId: webId, slot: 3, nodeId: 'n1', state: running, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
      tx.tasks.create(makeTask({ serviceId: agentId, slot: 0, nodeId: 'n1', state: running }));
      tx.tasks.create(makeTask({ serviceId: agentId, slot: 0, nodeId: 'n2', state: TaskState.TASK_STATE_ASSIGNED }));
      tx.tasks.create(makeTask({ serviceId: agentId, slot: 0, nodeId: 'n3', state: TaskState.TASK_STATE_FAILED, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    });
    const { runningTasks, desiredTasks } = await call('listServices', { names: [], labels: {} });
    expect(runningTasks).toEqual({ [web.meta!.id]: 1, [agent.meta!.id]: 1 });
    expect(desiredTasks).toEqual({ [web.meta!.id]: 3, [agent.meta!.id]: 2 });
  });
});

describe('GetTask and ListTasks', () => {
  it('filters by service (id or name), node (id or hostname) and desired state', async () => {
    const web = await create('web');
    const api = await create('api');
    await store.update((tx) => {
      tx.nodes.create(makeNode('host-1', 'n1'));
      tx.nodes.create(makeNode('host-2', 'n2'));
      tx.tasks.create(makeTask({ id: 't1', serviceId: web.meta!.id, nodeId: 'n1' }));
      tx.tasks.create(makeTask({ id: 't2', serviceId: web.meta!.id, nodeId: 'n2', desiredState: TaskState.TASK_STATE_SHUTDOWN }));
      tx.tasks.create(makeTask({ id: 't3', serviceId: api.meta!.id, nodeId: 'n1' }));
    });
    const ids = async (req: Partial<RequestOf<'listTasks'>>) =>
      (await call('listTasks', { serviceIds: [], nodeIds: [], desiredStates: [], ...req })).tasks.map((t) => t.meta?.id).sort();
    expect(await ids({})).toEqual(['t1', 't2', 't3']);
    expect(await ids({ serviceIds: [web.meta!.id] })).toEqual(['t1', 't2']);
    expect(await ids({ serviceIds: ['api', 'web'] })).toEqual(['t1', 't2', 't3']);
    expect(await ids({ nodeIds: ['host-1'] })).toEqual(['t1', 't3']);
    expect(await ids({ serviceIds: ['web'], nodeIds: ['n1'] })).toEqual(['t1']);
    expect(await ids({ desiredStates: [TaskState.TASK_STATE_RUNNING] })).toEqual(['t1', 't3']);
    expect(await ids({ serviceIds: ['web'], desiredStates: [TaskState.TASK_STATE_SHUTDOWN] })).toEqual(['t2']);
    expect(await refusal('listTasks', { serviceIds: ['nope'], nodeIds: [], desiredStates: [] })).toEqual({
      code: status.NOT_FOUND,
      details: 'service nope not found',
    });
  });

  it('lists the tasks of a removed service by its id while they linger', async () => {
    const web = await create('web');
    await store.update((tx) => tx.tasks.create(makeTask({ id: 't1', serviceId: web.meta!.id })));
    await call('removeService', { id: 'web' });
    const { tasks } = await call('listTasks', { serviceIds: [web.meta!.id], nodeIds: [], desiredStates: [] });
    expect(tasks.map((t) => t.meta?.id)).toEqual(['t1']);
  });

  it('gets a task by id or prefix', async () => {
    await store.update((tx) => tx.tasks.create(makeTask({ id: 'task-abcdef' })));
    expect((await call('getTask', { id: 'task-abc' })).task?.meta?.id).toBe('task-abcdef');
    expect(await refusal('getTask', { id: 'zzz' })).toEqual({ code: status.NOT_FOUND, details: 'task zzz not found' });
  });
});

describe('nodes', () => {
  async function addNodes(): Promise<void> {
    await store.update((tx) => {
      tx.nodes.create(Node.fromPartial({ ...makeNode('worker-b', 'w2'), status: { state: NodeState.NODE_STATE_READY } }));
      tx.nodes.create(Node.fromPartial({ ...makeNode('worker-a', 'w1'), status: { state: NodeState.NODE_STATE_DOWN } }));
      tx.nodes.create(Node.fromPartial({ ...makeNode('manager-1', 'm1'), role: NodeRole.NODE_ROLE_MANAGER }));
    });
  }

  it('lists nodes by hostname, with the managers of the Raft configuration', async () => {
    await addNodes();
    const { nodes, managers } = await call('listNodes', {});
    expect(nodes.map((n) => n.description?.hostname)).toEqual(['manager-1', 'worker-a', 'worker-b']);
    expect(managers).toEqual([
      { raftId: 'm1', addr: 'unix:///m1.sock', leader: true, suffrage: 'voter', reachability: 'reachable' },
      { raftId: 'm2', addr: 'unix:///m2.sock', leader: false, suffrage: 'voter', reachability: 'reachable' },
      { raftId: 'm3', addr: 'unix:///m3.sock', leader: false, suffrage: 'nonvoter', reachability: 'unreachable' },
    ]);
  });

  it('gets a node by hostname, with a manager status only for Raft members', async () => {
    await addNodes();
    const manager = await call('getNode', { id: 'manager-1' });
    expect(manager.node?.meta?.id).toBe('m1');
    expect(manager.managerStatus?.leader).toBe(true);
    const worker = await call('getNode', { id: 'worker-a' });
    expect(worker.node?.meta?.id).toBe('w1');
    expect(worker.managerStatus).toBeUndefined();
  });

  it('calls a hostname two nodes share ambiguous', async () => {
    await store.update((tx) => {
      tx.nodes.create(makeNode('twin', 'x1'));
      tx.nodes.create(makeNode('twin', 'x2'));
    });
    expect(await refusal('getNode', { id: 'twin' })).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'node twin is ambiguous (2 nodes match); use a longer id',
    });
  });

  it('updates availability and labels with the version read', async () => {
    await addNodes();
    const { node } = await call('getNode', { id: 'worker-b' });
    const drained = { annotations: { name: '', labels: { zone: 'a' } }, desiredRole: NodeRole.NODE_ROLE_WORKER, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN };
    const updated = await call('updateNode', { id: 'worker-b', version: node!.meta!.version, spec: drained });
    expect(updated.node?.spec).toEqual(drained);
    expect(updated.node?.meta?.version).toBeGreaterThan(node!.meta!.version);
    expect(await refusal('updateNode', { id: 'worker-b', version: node!.meta!.version, spec: drained })).toEqual({
      code: status.ABORTED,
      details: `update out of sequence: node worker-b is at version ${updated.node!.meta!.version}, the update was based on version ${
        node!.meta!.version
      }; read it again and retry`,
    });
  });

  it('refuses invalid node specs', async () => {
    await addNodes();
    const { node } = await call('getNode', { id: 'w2' });
    const version = node!.meta!.version;
    expect(await refusal('updateNode', { id: 'w2', version, spec: { annotations: undefined, desiredRole: NodeRole.NODE_ROLE_WORKER, availability: 9 as NodeAvailability } })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid spec: availability: 9: must be one of NODE_AVAILABILITY_ACTIVE, NODE_AVAILABILITY_PAUSE, NODE_AVAILABILITY_DRAIN',
    });
  });

  it('removes a down node, a live one only with force, and records each removal', async () => {
    await addNodes();
    await createCluster();
    expect(await refusal('removeNode', { id: 'worker-b', force: false })).toEqual({
      code: status.FAILED_PRECONDITION,
      details: "node worker-b is not down and can't be removed (use --force)",
    });
    await call('removeNode', { id: 'worker-a', force: false });
    await call('removeNode', { id: 'worker-b', force: true });
    expect(store.view((tx) => tx.nodes.all().map((n) => n.meta?.id))).toEqual(['m1']);
    expect(Object.keys(store.view((tx) => tx.clusters.all()[0]!.removedNodes!.removedAt)).sort()).toEqual(['w1', 'w2']);
  });
});

describe('manager roles', () => {
  /** m1 (this manager, leader) and m2 are voters, m3 a non-voter, as the harness's Raft has it. */
  async function addManagers(): Promise<void> {
    await createCluster();
    await store.update((tx) => {
      tx.nodes.create(managerNode('manager-1', 'm1', NodeRole.NODE_ROLE_MANAGER));
      tx.nodes.create(managerNode('manager-2', 'm2', NodeRole.NODE_ROLE_MANAGER));
      tx.nodes.create(managerNode('manager-3', 'm3', NodeRole.NODE_ROLE_MANAGER));
      tx.nodes.create(Node.fromPartial({ ...makeNode('worker-1', 'w1'), status: { state: NodeState.NODE_STATE_READY } }));
    });
  }

  function managerNode(hostname: string, id: string, desiredRole: NodeRole): Node {
    return Node.fromPartial({
      ...makeNode(hostname, id),
      spec: { annotations: { name: '', labels: {} }, desiredRole },
      status: { state: NodeState.NODE_STATE_READY },
      role: desiredRole,
    });
  }

  async function setRole(id: string, desiredRole: NodeRole) {
    const { node } = await call('getNode', { id });
    return call('updateNode', { id, version: node!.meta!.version, spec: { ...node!.spec!, desiredRole } });
  }

  async function roleRefusal(id: string, desiredRole: NodeRole) {
    const { node } = await call('getNode', { id });
    return refusal('updateNode', { id, version: node!.meta!.version, spec: { ...node!.spec!, desiredRole } });
  }

  const desiredRoleOf = (id: string) => store.view((tx) => tx.nodes.get(id)?.spec?.desiredRole);

  it('promotes a demoted manager by recording the desired role (Raft follows in the role manager)', async () => {
    await addManagers();
    // m3 is a non-voter whose demotion was asked for.
    await setRole('manager-3', NodeRole.NODE_ROLE_WORKER);
    const { node } = await setRole('manager-3', NodeRole.NODE_ROLE_MANAGER);
    expect(node?.spec?.desiredRole).toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it('refuses to promote a node that runs as a worker, saying how to add a manager there', async () => {
    await addManagers();
    expect(await roleRefusal('worker-1', NodeRole.NODE_ROLE_MANAGER)).toEqual({
      code: status.FAILED_PRECONDITION,
      details:
        'node worker-1 is a worker, not a manager that was demoted: a worker is not promoted in place; run `shoal manager --join ADDR --token TOKEN` there with the manager join token',
    });
    expect(desiredRoleOf('w1')).not.toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it('demotes a manager while the others keep a quorum, never the last one', async () => {
    await addManagers();
    await setRole('manager-2', NodeRole.NODE_ROLE_WORKER);
    expect(desiredRoleOf('m2')).toBe(NodeRole.NODE_ROLE_WORKER);
    // m2's demotion is pending, so m1 is the last voter that stays.
    expect(await roleRefusal('manager-1', NodeRole.NODE_ROLE_WORKER)).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'node manager-1 cannot be demoted: it is the last manager of the cluster',
    });
    expect(desiredRoleOf('m1')).toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it('refuses a demotion that would leave fewer reachable managers than a quorum', async () => {
    await addManagers();
    raft.servers = raft.servers.map((s) => ({ ...s, suffrage: 'voter' }));
    // m3 is unreachable: without m2, only m1 of the remaining two could vote.
    expect(await roleRefusal('manager-2', NodeRole.NODE_ROLE_WORKER)).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'node manager-2 cannot be demoted: the cluster would lose its quorum: of the 2 managers that would remain, 2 must be reachable and 1 is',
    });
    peers = peers.map((p) => ({ ...p, connected: true }));
    await setRole('manager-2', NodeRole.NODE_ROLE_WORKER);
    expect(desiredRoleOf('m2')).toBe(NodeRole.NODE_ROLE_WORKER);
  });

  it('removes a manager only once demoted, or a down one with force', async () => {
    await addManagers();
    const refused = {
      code: status.FAILED_PRECONDITION,
      details:
        'node manager-2 is a cluster manager and a member of the Raft cluster: demote it to worker before removing it (a manager that is down can be removed with --force)',
    };
    expect(await refusal('removeNode', { id: 'manager-2', force: false })).toEqual(refused);
    expect(await refusal('removeNode', { id: 'manager-2', force: true })).toEqual(refused);

    // Down (and unreachable): --force removes it, and the removal record takes it out of Raft.
    const m2 = store.view((tx) => tx.nodes.get('m2')!);
    await store.update((tx) => tx.nodes.update({ ...m2, status: { state: NodeState.NODE_STATE_DOWN, message: '', addr: '' } }));
    peers = peers.map((p) => (p.id === 'm2' ? { ...p, connected: false } : p));
    await call('removeNode', { id: 'manager-2', force: true });
    expect(store.view((tx) => tx.nodes.get('m2'))).toBeUndefined();
    expect(store.view((tx) => tx.clusters.all()[0]!.removedNodes!.removedAt)).toEqual({ m2: NOW + 5 });

    // m3 is a non-voter still meant to be a manager (a joining one): demote first.
    expect(await refusal('removeNode', { id: 'manager-3', force: true })).toMatchObject({ code: status.FAILED_PRECONDITION });
    await setRole('manager-3', NodeRole.NODE_ROLE_WORKER);
    await call('removeNode', { id: 'manager-3', force: true });
    expect(store.view((tx) => tx.nodes.get('m3'))).toBeUndefined();
  });
});

describe('GetJoinToken', () => {
  it('says there is no token while the cluster has no CA', async () => {
    await createCluster();
    expect(await refusal('getJoinToken', { role: NodeRole.NODE_ROLE_WORKER, rotate: false })).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'the cluster has no certificate authority yet, so there are no join tokens',
    });
  });

  it("returns a role's token with the voters' addresses, leader first", async () => {
    const ca = await createCluster(createCaState('c1'));
    raft.leaderId = 'm2';
    expect(await call('getJoinToken', { role: NodeRole.NODE_ROLE_WORKER, rotate: false })).toEqual({
      token: ca!.workerJoinToken,
      managerAddresses: ['unix:///m2.sock', 'unix:///m1.sock'],
    });
    expect((await call('getJoinToken', { role: NodeRole.NODE_ROLE_MANAGER, rotate: false })).token).toBe(ca!.managerJoinToken);
    expect(await refusal('getJoinToken', { role: 7 as NodeRole, rotate: false })).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'invalid role 7: a join token is for a worker or a manager',
    });
  });

  it('rotates one role\'s token in the replicated CA state; the old one stops working', async () => {
    const ca = (await createCluster(createCaState('c1')))!;
    const { token } = await call('getJoinToken', { role: NodeRole.NODE_ROLE_MANAGER, rotate: true });
    expect(token).not.toBe(ca.managerJoinToken);
    const stored = store.view((tx) => tx.clusters.all()[0]!.ca!);
    expect(stored.managerJoinToken).toBe(token);
    expect(stored.workerJoinToken).toBe(ca.workerJoinToken);
    expect(roleForJoinToken(stored, ca.managerJoinToken)).toBeUndefined();
    expect(roleForJoinToken(stored, token)).toBe('manager');
  });
});

describe('GetCluster', () => {
  it('reports the cluster object without the root key, the managers and the Raft indexes, answered by this manager', async () => {
    const ca = (await createCluster(createCaState('c1')))!;
    peers = [{ id: 'm2', address: 'unix:///m2.sock', connected: false, queued: 0, dropped: 3 }];
    const response = await call('getCluster', {});
    expect(response.cluster?.meta?.id).toBe('c1');
    expect(response.cluster?.spec?.taskHistoryRetentionLimit).toBe(5);
    expect(response.managers.map((m) => [m.raftId, m.reachability])).toEqual([
      ['m1', 'reachable'],
      ['m2', 'unreachable'],
      ['m3', 'unknown'],
    ]);
    expect(response).toMatchObject({ raftTerm: 3, raftCommitIndex: 40, raftAppliedIndex: 39, answeredBy: 'm1' });
    // The root key never leaves the managers; the certificate and tokens do.
    expect(response.cluster?.ca).toEqual({ ...ca, rootCaKeyPem: '' });
  });
});

describe('leadership', () => {
  it('answers UNAVAILABLE when no leader appears in time', async () => {
    raft.role = 'follower';
    raft.leaderId = undefined;
    expect(await refusal('listServices', { names: [], labels: {} })).toEqual({ code: status.UNAVAILABLE, details: 'no leader elected; try again' });
  });

  it('refuses to pass on a call that was already forwarded', async () => {
    raft.role = 'follower';
    raft.leaderId = 'm2';
    const metadata = new Metadata();
    metadata.set(FORWARDED_METADATA, '1');
    expect(await refusal('getCluster', {}, metadata)).toEqual({
      code: status.UNAVAILABLE,
      details: 'manager m1 was forwarded a call but is not the leader; try again',
    });
  });

  it('handles a call itself when it is elected while waiting', async () => {
    raft.role = 'follower';
    raft.leaderId = undefined;
    setTimeout(() => {
      raft.role = 'leader';
      raft.leaderId = 'm1';
    }, 50);
    expect((await call('getCluster', {})).answeredBy).toBe('m1');
  });

  it('confirms each read with a quorum first, and passes one refused for lost leadership on to the leader', async () => {
    let confirmations = 0;
    readConfirmation = async () => void confirmations++;
    await call('listServices', { names: [], labels: {} });
    await call('getCluster', {});
    expect(confirmations).toBe(2);
    await call('createService', { spec: spec('web') });
    expect(confirmations).toBe(2);

    // Raft still reports this manager as leader, but a quorum no longer follows it.
    readConfirmation = () => Promise.reject(new NotLeaderError('not the leader'));
    raft.leaderId = undefined;
    expect(await refusal('listServices', { names: [], labels: {} })).toEqual({ code: status.UNAVAILABLE, details: 'no leader elected; try again' });
  });

  it('passes a write refused for lost leadership on to the leader, and fails cleanly when none is known', async () => {
    // Raft still reports this manager as leader, but the proposal is refused: leadership just moved.
    proposer.refuse(new NotLeaderError('not the leader', { id: 'm2', address: 'unix:///m2.sock' }));
    raft.leaderId = undefined;
    expect(await refusal('createService', { spec: spec('web') })).toEqual({ code: status.UNAVAILABLE, details: 'no leader elected; try again' });
    expect(serviceCount()).toBe(0);
  });
});
