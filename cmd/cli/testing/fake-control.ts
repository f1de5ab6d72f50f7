/**
 * A fake manager for the CLI's tests: the Control gRPC service over a unix socket, backed by
 * memory instead of Raft, with a pretend cluster that moves tasks one state further on every
 * ListTasks call (PENDING → ASSIGNED → STARTING → RUNNING), so that progress can be watched.
 *
 * It validates specs with the real control API's rules and keeps the real service-update
 * behaviour the CLI relies on (an unchanged spec is ignored; a change sets UPDATING; versions are
 * checked). `nextUpdate` makes the next spec change pause or roll back instead of completing.
 * Networks are a simple stand-in for the allocator: ids, VNIs and /24 subnets from counters, an
 * `ingress` network from the start, published ports from 30000 and a VIP per network; duplicate
 * names and removing a network in use are refused.
 */
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  ControlService,
  type ControlServer,
  type SubscribeLogsMessage,
  type SubscribeLogsRequest,
  type GetClusterResponse,
  type ListServicesResponse,
  type ManagerStatus,
} from '../../../proto/gen/control.js';
import {
  Network,
  Node,
  NodeRole,
  PublishMode,
  NodeState,
  ServiceSpec,
  TaskState,
  UpdateState,
  type Endpoint,
  type NetworkSpec,
  type Service,
  type UpdateStatus,
  type Task,
} from '../../../proto/gen/objects.js';
import { sameServiceSpec } from '../../../src/manager/controlapi/spec-equality.js';
import { InvalidSpecError, validateServiceSpec } from '../../../src/manager/controlapi/validate-spec.js';

class Refusal extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** The worker's steps a fake task takes, one per ListTasks call. */
const STEPS = [TaskState.TASK_STATE_PENDING, TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_STARTING, TaskState.TASK_STATE_RUNNING];

export type UpdateOutcome = 'complete' | 'pause' | 'rollback';

export class FakeControl {
  readonly services = new Map<string, Service>();
  readonly networks: Network[] = [];
  readonly tasks: Task[] = [];
  readonly nodes: Node[] = [
    Node.fromPartial({
      meta: { id: 'managernode00000000000001', version: 3 },
      spec: { annotations: { labels: {} }, desiredRole: NodeRole.NODE_ROLE_MANAGER },
      description: { hostname: 'm1', platform: { os: 'linux', architecture: 'x86_64' } },
      status: { state: NodeState.NODE_STATE_READY, addr: '127.0.0.1' },
      role: NodeRole.NODE_ROLE_MANAGER,
    }),
    Node.fromPartial({
      meta: { id: 'workernode000000000000002', version: 4 },
      spec: { annotations: { labels: { zone: 'a' } } },
      description: { hostname: 'w1' },
      status: { state: NodeState.NODE_STATE_DOWN },
    }),
  ];
  /** The join tokens GetJoinToken hands out; a rotation appends a counter. */
  readonly joinTokens = { worker: 'SHTKN-1-fakedigest-worker0', manager: 'SHTKN-1-fakedigest-manager0' };
  /** What the next spec change does: complete (default), pause, or roll back automatically. */
  nextUpdate: UpdateOutcome = 'complete';
  /** What SubscribeLogs streams (whatever the selector); with follow it then waits to be cancelled. */
  readonly logMessages: SubscribeLogsMessage[] = [];
  /** When set, what the next SubscribeLogs calls do instead, one each, in turn (a stream that breaks off). */
  readonly logSessions: ((call: ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>) => void)[] = [];
  /** Every SubscribeLogs request, in order. */
  readonly logRequests: SubscribeLogsRequest[] = [];
  private nextId = 1;
  private nextSubnet = 0;
  private nextPublishedPort = 30000;
  private server: Server | undefined;

  constructor() {
    this.addNetwork({ annotations: { name: 'ingress', labels: {} }, driver: 'overlay', subnet: '', attachable: false, ingress: true });
  }

  private readonly managers: ManagerStatus[] = [
    { raftId: 'managernode00000000000001', addr: '127.0.0.1:4242', leader: true, suffrage: 'voter', reachability: 'reachable' },
  ];

  async listen(socketPath: string): Promise<void> {
    const server = new Server();
    server.addService(ControlService, this.handlers());
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.tryShutdown(() => resolve()) : resolve()));
  }

  private handlers(): ControlServer {
    const unary =
      <Req, Res>(fn: (req: Req) => Res) =>
      (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
        try {
          callback(null, fn(call.request));
        } catch (err) {
          if (err instanceof Refusal) callback({ code: err.code, details: err.message });
          else if (err instanceof InvalidSpecError) callback({ code: status.INVALID_ARGUMENT, details: err.message });
          else callback({ code: status.INTERNAL, details: String(err) });
        }
      };
    return {
      getCluster: unary((): GetClusterResponse => ({
        cluster: { meta: { id: 'cluster0000000000000000001', version: 2, createdAt: 1, updatedAt: 1 }, spec: { annotations: { name: 'default', labels: {} }, taskHistoryRetentionLimit: 5, heartbeatPeriodMs: 5000, nodeCertLifetimeMs: 0 } },
        managers: this.managers,
        raftTerm: 2,
        raftCommitIndex: 40,
        raftAppliedIndex: 40,
        answeredBy: 'managernode00000000000001',
      })),
      createService: unary((req) => {
        const spec = validateServiceSpec(req.spec ?? ServiceSpec.fromPartial({}));
        const name = spec.annotations!.name;
        if ([...this.services.values()].some((s) => s.spec!.annotations!.name === name)) throw new Refusal(status.ALREADY_EXISTS, `service ${name} already exists`);
        this.checkNetworks(spec);
        const id = this.id('svc');
        const service: Service = { meta: { id, version: this.nextId, createdAt: Date.now(), updatedAt: Date.now() }, spec, previousSpec: undefined, specVersion: 1, updateStatus: undefined, endpoint: undefined };
        service.endpoint = this.allocate(spec, undefined);
        this.services.set(id, service);
        this.reconcile(service);
        return { service };
      }),
      getService: unary((req) => ({ service: this.find(req.id) })),
      listServices: unary((req): ListServicesResponse => {
        const services = [...this.services.values()]
          .filter((s) => req.names.length === 0 || req.names.includes(s.spec!.annotations!.name))
          .filter((s) => Object.entries(req.labels).every(([k, v]) => k in s.spec!.annotations!.labels && (v === '' || s.spec!.annotations!.labels[k] === v)))
          .sort((a, b) => (a.spec!.annotations!.name < b.spec!.annotations!.name ? -1 : 1));
        const runningTasks: Record<string, number> = {};
        const desiredTasks: Record<string, number> = {};
        for (const s of services) {
          const live = this.tasks.filter((t) => t.serviceId === s.meta!.id && t.desiredState === TaskState.TASK_STATE_RUNNING);
          runningTasks[s.meta!.id] = live.filter((t) => t.status!.state === TaskState.TASK_STATE_RUNNING).length;
          desiredTasks[s.meta!.id] = s.spec!.mode?.$case === 'replicated' ? s.spec!.mode.replicated.replicas : live.length;
        }
        return { services, runningTasks, desiredTasks };
      }),
      updateService: unary((req) => {
        const current = this.find(req.id);
        if (req.version !== current.meta!.version) {
          throw new Refusal(status.ABORTED, `update out of sequence: service ${current.spec!.annotations!.name} is at version ${current.meta!.version}`);
        }
        if (req.rollback) {
          if (!current.previousSpec) throw new Refusal(status.FAILED_PRECONDITION, `service ${current.spec!.annotations!.name} has no previous spec to roll back to`);
          this.write(current, { spec: current.previousSpec, previousSpec: current.spec, updateStatus: this.status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, 'manually requested rollback') });
        } else {
          const spec = validateServiceSpec(req.spec ?? ServiceSpec.fromPartial({}));
          this.checkNetworks(spec);
          if (!sameServiceSpec(spec, current.spec!)) {
            this.write(current, { spec, previousSpec: current.spec, updateStatus: this.status(UpdateState.UPDATE_STATE_UPDATING, 'update in progress') });
          }
        }
        const service = this.services.get(current.meta!.id)!;
        this.reconcile(service);
        return { service };
      }),
      removeService: unary((req) => {
        const service = this.find(req.id);
        this.services.delete(service.meta!.id);
        for (const t of this.tasks) if (t.serviceId === service.meta!.id) t.desiredState = TaskState.TASK_STATE_REMOVE;
        return {};
      }),
      getTask: unary((req) => {
        const matches = this.tasks.filter((t) => t.meta!.id.startsWith(req.id));
        const task = this.tasks.find((t) => t.meta!.id === req.id) ?? (matches.length === 1 ? matches[0] : undefined);
        if (!task) throw new Refusal(status.NOT_FOUND, `task ${req.id} not found`);
        return { task };
      }),
      listTasks: unary((req) => {
        this.advance();
        // As the real handler, a filter value is a name or prefix unless some task carries it as an id.
        const serviceIds = req.serviceIds.map((ref) => (this.tasks.some((t) => t.serviceId === ref) ? ref : this.find(ref).meta!.id));
        const nodeIds = req.nodeIds.map((ref) => (this.tasks.some((t) => t.nodeId === ref) ? ref : this.findNode(ref).meta!.id));
        const tasks = this.tasks.filter(
          (t) =>
            (serviceIds.length === 0 || serviceIds.includes(t.serviceId)) &&
            (nodeIds.length === 0 || nodeIds.includes(t.nodeId)) &&
            (req.desiredStates.length === 0 || req.desiredStates.includes(t.desiredState)),
        );
        return { tasks };
      }),
      getNode: unary((req) => {
        const node = this.findNode(req.id);
        return { node, managerStatus: this.managers.find((m) => m.raftId === node.meta!.id) };
      }),
      listNodes: unary(() => ({ nodes: this.nodes, managers: this.managers })),
      updateNode: unary((req) => {
        const node = this.findNode(req.id);
        if (req.version !== node.meta!.version) throw new Refusal(status.ABORTED, `update out of sequence: node ${node.description!.hostname}`);
        const lastManager = this.managers.length === 1 && this.managers[0]!.raftId === node.meta!.id;
        if (lastManager && req.spec?.desiredRole === NodeRole.NODE_ROLE_WORKER) {
          throw new Refusal(status.FAILED_PRECONDITION, `node ${node.description!.hostname} cannot be demoted: it is the last manager of the cluster`);
        }
        node.spec = req.spec;
        node.meta!.version = this.nextId++;
        return { node, managerStatus: undefined };
      }),
      removeNode: unary((req) => {
        const node = this.findNode(req.id);
        if (node.status?.state !== NodeState.NODE_STATE_DOWN && !req.force) {
          throw new Refusal(status.FAILED_PRECONDITION, `node ${node.description!.hostname} is not down and can't be removed (use --force)`);
        }
        this.nodes.splice(this.nodes.indexOf(node), 1);
        return {};
      }),
      getJoinToken: unary((req) => {
        const role = req.role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
        if (req.rotate) this.joinTokens[role] = `${this.joinTokens[role].replace(/\d+$/, '')}${this.nextId++}`;
        return { token: this.joinTokens[role], managerAddresses: this.managers.map((m) => m.addr) };
      }),
      createNetwork: unary((req) => {
        const spec = req.spec;
        const name = spec?.annotations?.name ?? '';
        if (spec === undefined || name === '') throw new Refusal(status.INVALID_ARGUMENT, 'annotations.name: required');
        if (this.networks.some((n) => n.spec!.annotations!.name === name)) throw new Refusal(status.ALREADY_EXISTS, `network ${name} already exists`);
        return { network: this.addNetwork(spec) };
      }),
      getNetwork: unary((req) => ({ network: this.findNetwork(req.id) })),
      listNetworks: unary((req) => ({ networks: this.networks.filter((n) => req.names.length === 0 || req.names.includes(n.spec!.annotations!.name)) })),
      removeNetwork: unary((req) => {
        const network = this.findNetwork(req.id);
        const id = network.meta!.id;
        const user = [...this.services.values()].find((s) =>
          network.spec!.ingress
            ? s.spec!.endpoint?.ports.some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS)
            : s.spec!.task!.networks.some((n) => n.target === id),
        );
        if (user) throw new Refusal(status.FAILED_PRECONDITION, `network ${network.spec!.annotations!.name} is in use by service ${user.spec!.annotations!.name}`);
        this.networks.splice(this.networks.indexOf(network), 1);
        return {};
      }),
      subscribeLogs: (call) => {
        this.logRequests.push(call.request);
        const session = this.logSessions.shift();
        if (session) return session(call);
        for (const message of this.logMessages) call.write(message);
        if (!call.request.options?.follow) call.end();
      },
    };
  }

  private addNetwork(spec: NetworkSpec): Network {
    const n = this.nextSubnet++;
    const subnet = spec.subnet || `10.0.${n}.0/24`;
    const network = Network.fromPartial({
      meta: { id: this.id('net'), version: this.nextId, createdAt: Date.now(), updatedAt: Date.now() },
      spec,
      vni: 4096 + n,
      subnet,
      gateway: subnet.replace(/\.0\/\d+$/, '.1'),
    });
    this.networks.push(network);
    return network;
  }

  private findNetwork(ref: string): Network {
    const byPrefix = this.networks.filter((n) => n.meta!.id.startsWith(ref));
    const network = this.networks.find((n) => n.meta!.id === ref || n.spec!.annotations!.name === ref) ?? (byPrefix.length === 1 ? byPrefix[0] : undefined);
    if (!network) throw new Refusal(status.NOT_FOUND, `network ${ref} not found`);
    return network;
  }

  /** As the real control API: a spec names its networks by id, and each must exist. */
  private checkNetworks(spec: ServiceSpec): void {
    for (const attachment of spec.task?.networks ?? []) {
      if (!this.networks.some((n) => n.meta!.id === attachment.target)) throw new Refusal(status.NOT_FOUND, `network ${attachment.target} not found`);
    }
  }

  /** Published ports from 30000 (kept across updates), and a VIP on each network and, with ingress ports, on ingress. */
  private allocate(spec: ServiceSpec, previous: Endpoint | undefined): Endpoint | undefined {
    const endpointSpec = spec.endpoint;
    const ports = (endpointSpec?.ports ?? []).map((port) => {
      if (port.publishedPort !== 0 || port.publishMode === PublishMode.PUBLISH_MODE_HOST) return port;
      const before = previous?.ports.find((p) => p.targetPort === port.targetPort && p.protocol === port.protocol && p.publishMode === port.publishMode);
      return { ...port, publishedPort: before?.publishedPort ?? this.nextPublishedPort++ };
    });
    const networkIds = (spec.task?.networks ?? []).map((n) => n.target);
    const ingress = this.networks.find((n) => n.spec!.ingress);
    if (ingress && ports.some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS)) networkIds.unshift(ingress.meta!.id);
    if (endpointSpec === undefined && networkIds.length === 0) return undefined;
    const virtualIps = networkIds.map((networkId) => {
      const network = this.networks.find((n) => n.meta!.id === networkId)!;
      return { networkId, address: network.subnet.replace(/\.0\/(\d+)$/, `.${this.nextId++ % 250 + 2}/$1`) };
    });
    return { spec: endpointSpec, ports, virtualIps };
  }

  private id(prefix: string): string {
    return `${prefix}${String(this.nextId++).padStart(25 - prefix.length, '0')}`;
  }

  private status(state: UpdateState, message: string): UpdateStatus {
    return { state, startedAt: Date.now(), completedAt: 0, message };
  }

  private write(current: Service, change: Partial<Service>): void {
    const spec = change.spec ?? current.spec;
    this.services.set(current.meta!.id, {
      ...current,
      ...change,
      endpoint: spec === current.spec ? current.endpoint : this.allocate(spec!, current.endpoint),
      meta: { ...current.meta!, version: this.nextId++, updatedAt: Date.now() },
      specVersion: spec === current.spec ? current.specVersion : current.specVersion + 1,
    });
  }

  private find(ref: string): Service {
    const found = this.services.get(ref) ?? [...this.services.values()].find((s) => s.spec!.annotations!.name === ref);
    if (found) return found;
    const byPrefix = [...this.services.values()].filter((s) => s.meta!.id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0]!;
    throw new Refusal(status.NOT_FOUND, `service ${ref} not found`);
  }

  private findNode(ref: string): Node {
    const byPrefix = this.nodes.filter((n) => n.meta!.id.startsWith(ref));
    const node = this.nodes.find((n) => n.meta!.id === ref || n.description?.hostname === ref) ?? (byPrefix.length === 1 ? byPrefix[0] : undefined);
    if (!node) throw new Refusal(status.NOT_FOUND, `node ${ref} not found`);
    return node;
  }

  /** Replaces tasks whose spec differs from the service's and makes the count match, at once. */
  private reconcile(service: Service): void {
    const mine = this.tasks.filter((t) => t.serviceId === service.meta!.id && t.desiredState === TaskState.TASK_STATE_RUNNING);
    const mode = service.spec!.mode;
    // A replicated service wants slots 1..replicas; a global one a task (slot 0) on every ready node.
    const wanted =
      mode?.$case === 'replicated'
        ? Array.from({ length: mode.replicated.replicas }, (_, i) => ({ slot: i + 1, nodeId: '' }))
        : this.nodes.filter((n) => n.status?.state === NodeState.NODE_STATE_READY).map((n) => ({ slot: 0, nodeId: n.meta!.id }));
    const key = (slot: number, nodeId: string) => (mode?.$case === 'replicated' ? `${slot}` : nodeId);
    const wantedKeys = new Set(wanted.map((w) => key(w.slot, w.nodeId)));
    for (const task of mine) {
      const outdated = !sameServiceSpec(ServiceSpec.fromPartial({ task: task.spec }), ServiceSpec.fromPartial({ task: service.spec!.task }));
      if (outdated || !wantedKeys.has(key(task.slot, task.nodeId))) this.shutDown(task);
    }
    for (const { slot, nodeId } of wanted) {
      const present = this.tasks.some(
        (t) => t.serviceId === service.meta!.id && key(t.slot, t.nodeId) === key(slot, nodeId) && t.desiredState === TaskState.TASK_STATE_RUNNING,
      );
      if (!present) this.tasks.push(this.newTask(service, slot, nodeId));
    }
  }

  private shutDown(task: Task): void {
    task.desiredState = TaskState.TASK_STATE_SHUTDOWN;
    task.status = { ...task.status!, state: TaskState.TASK_STATE_SHUTDOWN, timestamp: Date.now() };
  }

  private newTask(service: Service, slot: number, nodeId: string): Task {
    return {
      meta: { id: this.id('task'), version: this.nextId, createdAt: Date.now(), updatedAt: Date.now() },
      serviceId: service.meta!.id,
      slot,
      nodeId,
      spec: service.spec!.task,
      specVersion: service.specVersion,
      serviceAnnotations: { name: service.spec!.annotations!.name, labels: {} },
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: { state: TaskState.TASK_STATE_PENDING, timestamp: Date.now(), message: 'pending task scheduling', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 },
      networks: [],
      endpoint: service.endpoint,
    };
  }

  /** One worker step for every task, then settles update statuses as the real supervisor would. */
  private advance(): void {
    // The fake's reaper: the tasks of a removed service are deleted one step after the removal.
    for (let i = this.tasks.length - 1; i >= 0; i--) if (this.tasks[i]!.desiredState === TaskState.TASK_STATE_REMOVE) this.tasks.splice(i, 1);
    for (const task of this.tasks) {
      if (task.desiredState !== TaskState.TASK_STATE_RUNNING) continue;
      const step = STEPS.indexOf(task.status!.state);
      if (step < 0 || step === STEPS.length - 1) continue;
      task.status = { ...task.status!, state: STEPS[step + 1]!, timestamp: Date.now(), message: '' };
      if (task.nodeId === '') task.nodeId = this.nodes[0]!.meta!.id;
    }
    for (const service of this.services.values()) this.settle(service);
  }

  private settle(service: Service): void {
    const state = service.updateStatus?.state;
    if (state !== UpdateState.UPDATE_STATE_UPDATING && state !== UpdateState.UPDATE_STATE_ROLLBACK_STARTED) return;
    const live = this.tasks.filter((t) => t.serviceId === service.meta!.id && t.desiredState === TaskState.TASK_STATE_RUNNING);
    if (state === UpdateState.UPDATE_STATE_UPDATING && this.nextUpdate !== 'complete') {
      const failed = live[0];
      if (failed === undefined) return;
      failed.status = { ...failed.status!, state: TaskState.TASK_STATE_FAILED, err: 'task: non-zero exit (1)', timestamp: Date.now() };
      failed.desiredState = TaskState.TASK_STATE_SHUTDOWN;
      const why = `update paused due to failure or early termination of task ${failed.meta!.id}`;
      if (this.nextUpdate === 'pause') {
        this.write(service, { updateStatus: this.status(UpdateState.UPDATE_STATE_PAUSED, why) });
      } else {
        this.write(service, {
          spec: service.previousSpec,
          previousSpec: service.spec,
          updateStatus: this.status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, `update rolled back due to failure or early termination of task ${failed.meta!.id}`),
        });
        this.reconcile(this.services.get(service.meta!.id)!);
      }
      this.nextUpdate = 'complete';
      return;
    }
    if (live.length > 0 && live.every((t) => t.status!.state === TaskState.TASK_STATE_RUNNING)) {
      const done = state === UpdateState.UPDATE_STATE_UPDATING ? UpdateState.UPDATE_STATE_COMPLETED : UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED;
      this.write(service, { updateStatus: { ...this.status(done, done === UpdateState.UPDATE_STATE_COMPLETED ? 'update completed' : 'rollback completed'), completedAt: Date.now() } });
    }
  }
}
