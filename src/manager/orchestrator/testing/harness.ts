/**
 * The orchestrator tests' world: a real store over FakeProposer, a FakeClock, the five loops, and a
 * FakeTaskDriver playing scheduler and workers. Service writes mimic the control API's (spec
 * version bumps, previous spec, update status), so the loops see what they will see in a manager.
 */
import {
  Node,
  NodeAvailability,
  NodeRole,
  NodeState,
  Service,
  TaskSpec,
  TaskState,
  UpdateState,
  type ServiceSpec,
  type Task,
} from '../../../../proto/gen/objects.js';
import { newId } from '../../../common/ids.js';
import { silentLogger } from '../../../common/logger.js';
import { createTestStore, type FakeProposer } from '../../../store/testing/index.js';
import type { Store } from '../../../store/types.js';
import { Orchestration } from '../index.js';
import type { LoopDeps } from '../loop.js';
import { isRunnable } from '../task.js';
import { FakeClock } from '../../../common/testing/fake-clock.js';
import { FakeTaskDriver } from './fake-task-driver.js';

export interface NodeOptions {
  labels?: Record<string, string>;
  availability?: NodeAvailability;
  state?: NodeState;
}

export class Harness {
  readonly clock = new FakeClock();
  readonly store: Store;
  /** Refuse proposals through it to play a manager that lost leadership. */
  readonly proposer: FakeProposer;
  readonly driver: FakeTaskDriver;
  readonly deps: LoopDeps;
  loops: Orchestration;

  constructor(opts: { retention?: number } = {}) {
    let lastStamp = 0;
    // Strictly increasing creation stamps, so a slot's generations order as they were made even
    // though fake time stands still.
    const storeNow = (): number => (lastStamp = Math.max(lastStamp + 1, this.clock.wall()));
    const { store, proposer } = createTestStore({ now: storeNow, logger: silentLogger });
    this.store = store;
    this.proposer = proposer;
    this.deps = { store: this.store, logger: silentLogger, clock: this.clock, now: () => this.clock.wall() };
    this.loops = new Orchestration(this.deps);
    this.driver = new FakeTaskDriver(this.store, () => this.clock.wall());
    void this.store.update((tx) =>
      tx.clusters.create({
        meta: { id: newId(), version: 0, createdAt: 0, updatedAt: 0 },
        spec: { annotations: { name: 'default', labels: {} }, taskHistoryRetentionLimit: opts.retention ?? 5, heartbeatPeriodMs: 5000, nodeCertLifetimeMs: 0 },
      }),
    );
  }

  start(): this {
    this.loops.start();
    this.driver.start();
    return this;
  }

  stop(): void {
    this.loops.stop();
    this.driver.stop();
  }

  /** Leadership moves: the loops stop mid-flight and new instances start over the same store. */
  failover(): void {
    this.loops.stop();
    this.loops = new Orchestration(this.deps);
    this.loops.start();
  }

  async addNode(hostname: string, opts: NodeOptions = {}): Promise<string> {
    const id = `node-${hostname}`;
    await this.store.update((tx) =>
      tx.nodes.create(
        Node.fromPartial({
          meta: { id },
          spec: { annotations: { name: '', labels: opts.labels ?? {} }, availability: opts.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE },
          description: { hostname, platform: { os: 'linux', architecture: 'amd64' } },
          status: { state: opts.state ?? NodeState.NODE_STATE_READY },
          role: NodeRole.NODE_ROLE_WORKER,
        }),
      ),
    );
    return id;
  }

  async updateNode(id: string, change: (node: Node) => Node): Promise<void> {
    await this.store.update((tx) => tx.nodes.update(change(tx.nodes.get(id)!)));
  }

  async setNodeState(id: string, state: NodeState): Promise<void> {
    await this.updateNode(id, (n) => ({ ...n, status: { ...n.status!, state } }));
  }

  async setAvailability(id: string, availability: NodeAvailability): Promise<void> {
    await this.updateNode(id, (n) => ({ ...n, spec: { ...n.spec!, availability } }));
  }

  async createService(name: string, spec: Partial<ServiceSpec> = {}): Promise<string> {
    const id = `svc-${name}`;
    const full: ServiceSpec = {
      annotations: { name, labels: {} },
      // No restart delay unless a test asks for one: restarts happen as soon as a task stops.
      task: TaskSpec.fromPartial({ container: { image: 'app:1' }, restart: { delayMs: 0 } }),
      mode: { $case: 'replicated', replicated: { replicas: 1 } },
      ...spec,
    };
    await this.store.update((tx) => tx.services.create(Service.fromPartial({ meta: { id }, spec: full, specVersion: 1 })));
    return id;
  }

  /** As the control API's UpdateService: previous spec kept, version bumped, update in progress. */
  async updateService(id: string, change: (spec: ServiceSpec) => ServiceSpec): Promise<void> {
    await this.store.update((tx) => {
      const service = tx.services.get(id)!;
      tx.services.update({
        ...service,
        previousSpec: service.spec,
        spec: change(structuredClone(service.spec!)),
        specVersion: service.specVersion + 1,
        updateStatus: { state: UpdateState.UPDATE_STATE_UPDATING, startedAt: this.clock.wall(), completedAt: 0, message: 'update in progress' },
      });
    });
  }

  async setImage(id: string, image: string): Promise<void> {
    await this.updateService(id, (spec) => ({ ...spec, task: { ...spec.task!, container: { ...spec.task!.container!, image } } }));
  }

  async scale(id: string, replicas: number): Promise<void> {
    await this.updateService(id, (spec) => ({ ...spec, mode: { $case: 'replicated', replicated: { replicas } } }));
  }

  /** As the control API's manual rollback. */
  async rollback(id: string): Promise<void> {
    await this.store.update((tx) => {
      const service = tx.services.get(id)!;
      tx.services.update({
        ...service,
        spec: service.previousSpec,
        previousSpec: service.spec,
        specVersion: service.specVersion + 1,
        updateStatus: { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAt: this.clock.wall(), completedAt: 0, message: 'manually requested rollback' },
      });
    });
  }

  async removeService(id: string): Promise<void> {
    await this.store.update((tx) => tx.services.delete(tx.services.get(id)!));
  }

  service(id: string): Service | undefined {
    return this.store.view((tx) => tx.services.get(id));
  }

  tasks(serviceId: string): Task[] {
    return this.store.view((tx) => tx.tasks.byService(serviceId));
  }

  runnable(serviceId: string): Task[] {
    return this.tasks(serviceId).filter(isRunnable);
  }

  running(serviceId: string): Task[] {
    return this.runnable(serviceId).filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING);
  }

  images(tasks: Task[]): string[] {
    return tasks.map((t) => t.spec?.container?.image ?? '').sort();
  }

  /** Waits (real time) until `done()` holds. */
  async waitFor(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await turn();
    }
  }

  /** Waits until nothing moves: no store writes, loops and driver idle, for several turns of the event loop. */
  async settle(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let quiet = 0;
    let last = this.store.appliedIndex();
    while (quiet < 10) {
      if (Date.now() > deadline) throw new Error('the loops did not settle');
      await turn();
      const index = this.store.appliedIndex();
      const idle =
        this.loops.restart.idle() && this.loops.replicated.idle() && this.loops.global.idle() && this.loops.reaper.idle() && this.driver.idle();
      quiet = index === last && idle ? quiet + 1 : 0;
      last = index;
    }
  }

  /** Advances fake time by `ms` in steps, letting the loops react between steps, then settles. */
  async advance(ms: number, step = ms): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      this.clock.advance(Math.min(step, ms - elapsed));
      await this.settle();
    }
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
