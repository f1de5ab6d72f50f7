import { afterEach, describe, expect, it } from 'vitest';
import { NodeAvailability, NodeState, TaskSpec, TaskState, UpdateConfig, UpdateState, type ServiceSpec } from '../../../proto/gen/objects.js';
import { Harness } from './testing/harness.js';

function globalSpec(constraints: string[] = []): Partial<ServiceSpec> {
  return {
    task: TaskSpec.fromPartial({ container: { image: 'agent:1' }, restart: { delayMs: 0 }, placement: { constraints } }),
    mode: { $case: 'global', global: {} },
  };
}

describe('GlobalOrchestrator', () => {
  let h: Harness;
  afterEach(() => h.stop());

  const nodesRunning = (svc: string): string[] => h.running(svc).map((t) => t.nodeId).sort();

  it('runs one task on every ready node, slot 0, node set at creation', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    await h.settle();
    expect(nodesRunning(svc)).toEqual([a, b]);
    expect(h.tasks(svc).every((t) => t.slot === 0)).toBe(true);
  });

  it('follows nodes as they join', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 1, 'one running');
    const b = await h.addNode('b');
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    expect(nodesRunning(svc)).toEqual([a, b]);
    // A node that registers but is not ready yet gets its task once it is.
    const c = await h.addNode('c', { state: NodeState.NODE_STATE_UNKNOWN });
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(2);
    await h.setNodeState(c, NodeState.NODE_STATE_READY);
    await h.waitFor(() => h.running(svc).length === 3, 'three running');
  });

  it('shuts down the task of a drained node, leaves a paused one alone, and comes back when active', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    await h.setAvailability(a, NodeAvailability.NODE_AVAILABILITY_DRAIN);
    await h.setAvailability(b, NodeAvailability.NODE_AVAILABILITY_PAUSE);
    await h.settle();
    expect(nodesRunning(svc)).toEqual([b]);
    expect(h.tasks(svc).find((t) => t.nodeId === a)?.status?.state).toBe(TaskState.TASK_STATE_SHUTDOWN);
    await h.setAvailability(a, NodeAvailability.NODE_AVAILABILITY_ACTIVE);
    await h.waitFor(() => h.running(svc).length === 2, 'back on a');
  });

  it('shuts down the task of a node that goes down or is removed', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    h.driver.silence(a);
    await h.setNodeState(a, NodeState.NODE_STATE_DOWN);
    await h.store.update((tx) => tx.nodes.delete(tx.nodes.get(b)!));
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(0);
  });

  it('follows label changes that make a node meet or break the constraints', async () => {
    h = new Harness().start();
    const a = await h.addNode('a', { labels: { zone: 'east' } });
    const b = await h.addNode('b', { labels: { zone: 'west' } });
    const svc = await h.createService('agent', globalSpec(['node.labels.zone==east']));
    await h.waitFor(() => h.running(svc).length === 1, 'one running');
    expect(nodesRunning(svc)).toEqual([a]);
    await h.updateNode(a, (n) => ({ ...n, spec: { ...n.spec!, annotations: { name: '', labels: { zone: 'west' } } } }));
    await h.updateNode(b, (n) => ({ ...n, spec: { ...n.spec!, annotations: { name: '', labels: { zone: 'east' } } } }));
    await h.waitFor(() => h.running(svc).length === 1 && h.running(svc)[0]!.nodeId === b, 'moved to b');
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(1);
  });

  it('restarts a failed task on its node', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 1, 'one running');
    const first = h.running(svc)[0]!;
    await h.driver.fail(first.meta!.id);
    await h.waitFor(() => h.running(svc).length === 1 && h.running(svc)[0]!.meta!.id !== first.meta!.id, 'restarted');
    expect(h.running(svc)[0]!.nodeId).toBe(a);
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(1);
  });

  it('shuts down the tasks of a deleted global service', async () => {
    h = new Harness().start();
    await h.addNode('a');
    await h.addNode('b');
    const svc = await h.createService('agent', globalSpec());
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    await h.removeService(svc);
    await h.waitFor(() => h.tasks(svc).length === 0, 'shut down and reaped');
  });

  it('rolls a new spec out node by node, one task per node throughout', async () => {
    h = new Harness().start();
    await h.addNode('a');
    await h.addNode('b');
    await h.addNode('c');
    const svc = await h.createService('agent', { ...globalSpec(), update: UpdateConfig.fromPartial({ parallelism: 1, monitorMs: 0 }) });
    await h.waitFor(() => h.running(svc).length === 3, 'three running');
    let maxPerNode = 0;
    h.store.watch(() => {
      for (const node of ['node-a', 'node-b', 'node-c']) {
        maxPerNode = Math.max(maxPerNode, h.running(svc).filter((t) => t.nodeId === node).length);
      }
    });
    await h.setImage(svc, 'agent:2');
    await h.waitFor(() => h.service(svc)?.updateStatus?.state === UpdateState.UPDATE_STATE_COMPLETED, 'update completed');
    await h.settle();
    expect(h.running(svc).map((t) => t.spec?.container?.image)).toEqual(['agent:2', 'agent:2', 'agent:2']);
    expect(h.runnable(svc)).toHaveLength(3);
    expect(maxPerNode).toBe(1);
  });
});
