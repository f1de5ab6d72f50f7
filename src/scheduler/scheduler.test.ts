import { afterEach, describe, expect, it } from 'vitest';
import { NodeAvailability, NodeState, TaskState, type Node, type Task } from '../../proto/gen/objects.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { silentLogger } from '../common/logger.js';
import { createTestStore } from '../store/testing/index.js';
import { NotLeaderError, type Store } from '../store/types.js';
import { assignedMessage } from './schedule.js';
import { Scheduler } from './scheduler.js';
import { GiB, makeNode, makeTask, runningTask, type NodeOptions, type TaskOptions } from './testing/objects.js';

interface Harness {
  store: Store;
  scheduler: Scheduler;
  clock: FakeClock;
  /** How many transactions the scheduler itself proposed. */
  writes(): number;
  put(objects: { nodes?: Node[]; tasks?: Task[] }): Promise<void>;
  task(id: string): Task;
  /** Moves the batching clock and lets proposals apply until `done` holds. */
  until(what: string, done: () => boolean): Promise<void>;
  /** Lets the scheduler run for a while with nothing expected of it. */
  idle(): Promise<void>;
}

const running: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

type TestStore = ReturnType<typeof createTestStore>;

function harness(): Harness & Pick<TestStore, 'proposer' | 'fsm'> {
  const { store, proposer, fsm } = createTestStore();
  const clock = new FakeClock();
  let writes = 0;
  const counting: Store = {
    view: (fn) => store.view(fn),
    watch: (w) => store.watch(w),
    onRestore: (l) => store.onRestore(l),
    appliedIndex: () => store.appliedIndex(),
    update: (fn) => {
      writes++;
      return store.update(fn);
    },
  };
  const scheduler = new Scheduler({ store: counting, logger: silentLogger, clock, now: () => 4242, tasksPerTransaction: 500 });
  running.push(scheduler);
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return {
    store,
    proposer,
    fsm,
    scheduler,
    clock,
    writes: () => writes,
    put: async ({ nodes = [], tasks = [] }) => {
      await store.update((tx) => {
        for (const node of nodes) {
          const current = tx.nodes.get(node.meta!.id);
          if (current === undefined) tx.nodes.create(node);
          else tx.nodes.update({ ...node, meta: current.meta });
        }
        for (const task of tasks) {
          const current = tx.tasks.get(task.meta!.id);
          if (current === undefined) tx.tasks.create(task);
          else tx.tasks.update({ ...task, meta: current.meta });
        }
      });
    },
    task: (id) => store.view((tx) => tx.tasks.get(id))!,
    until: async (what, done) => {
      for (let i = 0; i < 500; i++) {
        if (done()) return;
        clock.advance(100);
        await turn();
      }
      throw new Error(`never happened: ${what}`);
    },
    idle: async () => {
      for (let i = 0; i < 20; i++) {
        clock.advance(100);
        await turn();
      }
    },
  };
}

const node = (id: string, options: NodeOptions = {}): Node => makeNode(id, { version: 0, ...options });
const task = (id: string, options: TaskOptions = {}): Task => makeTask(id, { version: 0, ...options });

describe('Scheduler', () => {
  it('assigns the tasks pending at start and those created later', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1'), node('n2')], tasks: [task('t1'), task('t2', { slot: 2 })] });
    h.scheduler.start();
    await h.until('t1 and t2 assigned', () => h.task('t1').nodeId !== '' && h.task('t2').nodeId !== '');
    expect(h.task('t1').status).toMatchObject({ state: TaskState.TASK_STATE_ASSIGNED, message: assignedMessage, timestamp: 4242 });
    expect(new Set([h.task('t1').nodeId, h.task('t2').nodeId])).toEqual(new Set(['n1', 'n2']));

    await h.put({ tasks: [task('t3', { slot: 3 })] });
    await h.until('t3 assigned', () => h.task('t3').status?.state === TaskState.TASK_STATE_ASSIGNED);
    expect(h.task('t3').nodeId).toBe('n1');
  });

  it('writes a large batch in a few transactions', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1'), node('n2'), node('n3')] });
    h.scheduler.start();
    const tasks = Array.from({ length: 1200 }, (_, i) => task(`t${i}`, { slot: i + 1 }));
    await h.put({ tasks });
    const assigned = (): number => h.store.view((tx) => tx.tasks.all().filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED).length);
    await h.until('every task assigned', () => assigned() === 1200);
    expect(h.writes()).toBe(3);
    const perNode = h.store.view((tx) => ['n1', 'n2', 'n3'].map((id) => tx.tasks.byNode(id).length));
    expect(perNode).toEqual([400, 400, 400]);
  });

  it('writes each node’s new tasks in one transaction, a few transactions at a time', async () => {
    const h = harness();
    const nodeIds = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    await h.put({ nodes: nodeIds.map((id) => node(id)) });
    // Per applied transaction: the nodes its placements went to, and how many transactions were
    // proposed but not yet applied when it was proposed.
    const transactions: string[][] = [];
    h.store.watch((events) => {
      const placed = events.filter((e) => e.kind === 'task' && e.action === 'update' && e.object.status?.state === TaskState.TASK_STATE_ASSIGNED);
      if (placed.length > 0) transactions.push([...new Set(placed.map((e) => (e.kind === 'task' ? e.object.nodeId : '')))]);
    });
    let inFlight = 0;
    let mostInFlight = 0;
    const write = h.store.update.bind(h.store);
    h.store.update = async (fn) => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        return await write(fn);
      } finally {
        inFlight--;
      }
    };
    h.scheduler.start();
    await h.put({ tasks: Array.from({ length: 1800 }, (_, i) => task(`t${i}`, { slot: i + 1 })) });
    const assigned = (): number => h.store.view((tx) => tx.tasks.all().filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED).length);
    await h.until('every task assigned', () => assigned() === 1800);
    // 300 tasks per node, at most 500 per transaction: one node per transaction, never split.
    expect(transactions).toHaveLength(6);
    expect(transactions.every((nodes) => nodes.length === 1)).toBe(true);
    expect(new Set(transactions.flat())).toEqual(new Set(nodeIds));
    expect(mostInFlight).toBeLessThanOrEqual(4);
  });

  it('explains a task that fits nowhere once, and places it when a node arrives', async () => {
    const h = harness();
    await h.put({ nodes: [node('small', { memoryBytes: GiB })], tasks: [task('t1', { memoryBytes: 2 * GiB })] });
    h.scheduler.start();
    await h.until('the pending message', () => h.task('t1').status?.message !== '');
    expect(h.task('t1').status).toMatchObject({ state: TaskState.TASK_STATE_PENDING, message: 'no suitable node (insufficient memory on 1 node)' });
    const version = h.task('t1').meta!.version;

    // A node change that does not help: the task is looked at again, but the same message is not rewritten.
    await h.put({ nodes: [node('small', { memoryBytes: GiB, labels: { zone: 'a' } })] });
    await h.idle();
    expect(h.task('t1').meta!.version).toBe(version);

    await h.put({ nodes: [node('big', { memoryBytes: 4 * GiB })] });
    await h.until('t1 placed on the new node', () => h.task('t1').nodeId === 'big');
    expect(h.task('t1').status?.state).toBe(TaskState.TASK_STATE_ASSIGNED);
  });

  it('places a waiting task once a finished task frees the resources', async () => {
    const h = harness();
    await h.put({
      nodes: [node('n1', { memoryBytes: 2 * GiB })],
      tasks: [runningTask('old', 'n1', { version: 0, memoryBytes: 2 * GiB }), task('new', { slot: 2, memoryBytes: 2 * GiB })],
    });
    h.scheduler.start();
    await h.until('the pending message', () => h.task('new').status?.message !== '');
    expect(h.task('new').status?.message).toBe('no suitable node (insufficient memory on 1 node)');

    await h.put({ tasks: [runningTask('old', 'n1', { memoryBytes: 2 * GiB, state: TaskState.TASK_STATE_FAILED })] });
    await h.until('the waiting task placed', () => h.task('new').nodeId === 'n1');
  });

  it('follows node availability: nothing goes to a drained node until it is active again', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })], tasks: [task('t1')] });
    h.scheduler.start();
    await h.until('the pending message', () => h.task('t1').status?.message === 'no suitable node (1 node not available for new tasks)');
    await h.put({ nodes: [node('n1')] });
    await h.until('t1 placed', () => h.task('t1').nodeId === 'n1');
  });

  it('counts the tasks already in the store against max replicas', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1'), node('n2')], tasks: [runningTask('r1', 'n1', { version: 0, maxReplicas: 1 })] });
    h.scheduler.start();
    await h.put({ tasks: [task('t2', { slot: 2, maxReplicas: 1 }), task('t3', { slot: 3, maxReplicas: 1 })] });
    await h.until('one placed, one explained', () => h.task('t2').status?.message !== '' && h.task('t3').status?.message !== '');
    expect([h.task('t2').nodeId, h.task('t3').nodeId].sort()).toEqual(['', 'n2']);
  });

  it('puts a task that names its node (a global service) on that node', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1'), node('n2')], tasks: [task('g2', { nodeId: 'n2', slot: 0 })] });
    h.scheduler.start();
    await h.until('g2 assigned', () => h.task('g2').status?.state === TaskState.TASK_STATE_ASSIGNED);
    expect(h.task('g2').nodeId).toBe('n2');
  });

  it('leaves alone tasks whose desired state is past running', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1')], tasks: [task('t1', { desiredState: TaskState.TASK_STATE_SHUTDOWN }), task('t2', { slot: 2, desiredState: TaskState.TASK_STATE_READY })] });
    h.scheduler.start();
    await h.until('t2 assigned', () => h.task('t2').nodeId === 'n1');
    expect(h.task('t1')).toMatchObject({ nodeId: '', status: { state: TaskState.TASK_STATE_PENDING } });
  });

  it('takes back a placement whose write conflicted, and looks at the task again', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1', { memoryBytes: GiB })], tasks: [task('t1', { memoryBytes: GiB })] });
    h.scheduler.start();
    // Another loop shuts t1 down; its write is proposed before the scheduler's but applies later.
    h.proposer.hold();
    const shutdown = h.store.update((tx) => {
      const t1 = tx.tasks.get('t1')!;
      tx.tasks.update({ ...t1, desiredState: TaskState.TASK_STATE_SHUTDOWN });
    });
    h.clock.advance(100); // the scheduler's pass plans t1 on n1 and proposes
    expect(h.writes()).toBe(1);
    h.proposer.release();
    await shutdown;
    await h.idle();
    expect(h.task('t1')).toMatchObject({ nodeId: '', desiredState: TaskState.TASK_STATE_SHUTDOWN });

    // n1's memory was given back: a new task that needs all of it fits.
    await h.put({ tasks: [task('t2', { slot: 2, memoryBytes: GiB })] });
    await h.until('t2 placed', () => h.task('t2').nodeId === 'n1');
  });

  it('places nothing once stopped', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1')] });
    h.scheduler.start();
    await h.scheduler.stop();
    await h.put({ tasks: [task('t1')] });
    await h.idle();
    expect(h.task('t1').nodeId).toBe('');
    expect(h.writes()).toBe(0);
  });

  it('ignores a node going down for tasks already placed, but places nothing new there', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1'), node('n2')], tasks: [task('t1')] });
    h.scheduler.start();
    await h.until('t1 placed', () => h.task('t1').nodeId !== '');
    const placed = h.task('t1').nodeId;
    const other = placed === 'n1' ? 'n2' : 'n1';
    await h.put({ nodes: [node(other, { state: NodeState.NODE_STATE_DOWN })], tasks: [] });
    await h.put({ tasks: [task('t2', { slot: 2 })] });
    await h.until('t2 placed', () => h.task('t2').nodeId !== '');
    expect(h.task('t2').nodeId).toBe(placed);
    expect(h.task('t1').nodeId).toBe(placed);
  });

  it('starts over from the store after a snapshot replaced its state', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1')] });
    h.scheduler.start();
    const other = createTestStore();
    await other.store.update((tx) => {
      tx.nodes.create(node('n2'));
      tx.tasks.create(task('t1'));
    });
    h.fsm.restore(other.fsm.snapshot());
    await h.until('t1 placed on the node the snapshot brought', () => h.task('t1').nodeId === 'n2');
  });

  it('waits before trying again after a write failed for another reason than a conflict', async () => {
    const h = harness();
    await h.put({ nodes: [node('n1')], tasks: [task('t1')] });
    h.proposer.refuse(new NotLeaderError('not the leader'));
    h.scheduler.start();
    h.clock.advance(10);
    await h.idle(); // 2 s of the batching clock: the first attempt, then one retry after the 1 s back-off
    expect(h.writes()).toBe(2);
    h.proposer.accept();
    await h.until('t1 placed', () => h.task('t1').nodeId === 'n1');
  });
});
