/**
 * For the agent's unit tests: the real Dispatcher over an in-memory test store, served on loopback,
 * so the agent speaks the real protocol to the real manager-side code without a manager process.
 */
import * as grpc from '@grpc/grpc-js';
import { DispatcherService } from '../../../proto/gen/dispatcher.js';
import { Cluster, Task, TaskState } from '../../../proto/gen/objects.js';
import { Dispatcher } from '../../manager/dispatcher/dispatcher.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { createTestStore } from '../../store/testing/test-store.js';

export interface InProcessManager {
  address: string;
  store: ReplicatedStore;
  dispatcher: Dispatcher;
  close(): void;
}

export async function startInProcessManager(opts: {
  active: boolean;
  heartbeatPeriodMs?: number;
  leaderAddress?: () => string | undefined;
  managerAddresses?: () => string[];
}): Promise<InProcessManager> {
  const { store } = createTestStore();
  await store.update((tx) =>
    tx.clusters.create(Cluster.fromPartial({ meta: { id: 'c' }, spec: { heartbeatPeriodMs: opts.heartbeatPeriodMs ?? 200 } })),
  );
  const dispatcher = new Dispatcher({
    store,
    leaderAddress: opts.leaderAddress ?? (() => undefined),
    managerAddresses: opts.managerAddresses ?? (() => []),
    assignmentDebounceMs: 5,
  });
  const server = new grpc.Server();
  server.addService(DispatcherService, dispatcher.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  if (opts.active) dispatcher.start();
  return {
    address: `127.0.0.1:${port}`,
    store,
    dispatcher,
    close: () => {
      dispatcher.stop();
      server.forceShutdown();
    },
  };
}

/** Puts a task on `nodeId`, as the scheduler would: ASSIGNED, desired RUNNING unless said otherwise. */
export async function assignTask(m: InProcessManager, id: string, nodeId: string, extra: Partial<Task> = {}): Promise<void> {
  await m.store.update((tx) =>
    tx.tasks.create(
      Task.fromPartial({
        meta: { id },
        serviceId: 's',
        slot: 1,
        nodeId,
        desiredState: TaskState.TASK_STATE_RUNNING,
        status: { state: TaskState.TASK_STATE_ASSIGNED },
        spec: { container: { image: 'app:1' } },
        ...extra,
      }),
    ),
  );
}

export async function setDesiredState(m: InProcessManager, id: string, desiredState: TaskState): Promise<void> {
  await m.store.update((tx) => {
    const t = tx.tasks.get(id);
    if (t) tx.tasks.update({ ...t, desiredState });
  });
}

export function storedTask(m: InProcessManager, id: string): Task | undefined {
  return m.store.view((tx) => tx.tasks.get(id));
}
