import { describe, expect, it } from 'vitest';
import { NodeAvailability, NodeState, TaskState } from '../../proto/gen/objects.js';
import { buildNodeInfos, NodeInfo } from './node-info.js';
import { assignedMessage, planPlacements } from './schedule.js';
import { GiB, makeNode, makeTask, pendingTasks, runningTask } from './testing/objects.js';
import { countByNode } from './testing/plans.js';

function infos(ids: string[]): NodeInfo[] {
  return ids.map((id) => new NodeInfo(makeNode(id)));
}

describe('planPlacements', () => {
  it('writes the assignment into a copy of the task and records it on the node', () => {
    const nodes = infos(['n1']);
    const task = makeTask('t1', { version: 7 });
    const plan = planPlacements(nodes, [task], 1234);
    expect(plan.unschedulable).toEqual([]);
    const [{ task: assigned, nodeId }] = plan.assigned as [{ task: typeof task; nodeId: string }];
    expect(nodeId).toBe('n1');
    expect(assigned).toMatchObject({ nodeId: 'n1', meta: { id: 't1', version: 7 } });
    expect(assigned.status).toMatchObject({ state: TaskState.TASK_STATE_ASSIGNED, message: assignedMessage, timestamp: 1234 });
    expect(task.nodeId).toBe('');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_PENDING);
    expect(nodes[0]!.hasTask('t1')).toBe(true);
  });

  it('spreads a service evenly, and later tasks see earlier choices', () => {
    const plan = planPlacements(infos(['n1', 'n2', 'n3']), pendingTasks(7, 't'));
    expect(countByNode(plan)).toEqual({ n1: 3, n2: 2, n3: 2 });
  });

  it('ranks by tasks of the service first, then by tasks overall, then by node id', () => {
    const nodes = [...buildNodeInfos(
      [makeNode('a'), makeNode('b'), makeNode('c')],
      [
        runningTask('s1', 'a'), // a: one of this service
        runningTask('o1', 'b', { serviceId: 'other' }), // b: two others
        runningTask('o2', 'b', { serviceId: 'other' }),
        runningTask('o3', 'c', { serviceId: 'other' }), // c: one other
      ],
    ).values()];
    const plan = planPlacements(nodes, pendingTasks(3, 't'));
    // c (0 of svc, 1 overall), then b (0 of svc, 2 overall); then a, b and c all have 1 of svc: a has 1 overall.
    expect(plan.assigned.map((a) => a.nodeId)).toEqual(['c', 'b', 'a']);
  });

  it('does not count tasks that are shutting down or finished when ranking', () => {
    const nodes = [...buildNodeInfos(
      [makeNode('a'), makeNode('b')],
      [
        runningTask('old1', 'a', { desiredState: TaskState.TASK_STATE_SHUTDOWN }),
        runningTask('old2', 'a', { state: TaskState.TASK_STATE_COMPLETE }),
        runningTask('live', 'b'),
      ],
    ).values()];
    expect(planPlacements(nodes, pendingTasks(1, 't')).assigned[0]!.nodeId).toBe('a');
  });

  it('fills nodes up to their memory and explains the rest', () => {
    const nodes = [new NodeInfo(makeNode('big', { memoryBytes: 3 * GiB })), new NodeInfo(makeNode('small', { memoryBytes: GiB }))];
    const plan = planPlacements(nodes, pendingTasks(6, 't', { memoryBytes: GiB }));
    expect(countByNode(plan)).toEqual({ big: 3, small: 1 });
    expect(plan.unschedulable.map((u) => u.task.meta?.id)).toEqual(['t5', 't6']);
    expect(plan.unschedulable[0]!.message).toBe('no suitable node (insufficient memory on 2 nodes)');
  });

  it('counts why each node was rejected in the pending message', () => {
    const nodes = [
      new NodeInfo(makeNode('down', { state: NodeState.NODE_STATE_DOWN })),
      new NodeInfo(makeNode('drained', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })),
      new NodeInfo(makeNode('paused', { availability: NodeAvailability.NODE_AVAILABILITY_PAUSE })),
      new NodeInfo(makeNode('small1', { memoryBytes: GiB, labels: { tier: 'db' } })),
      new NodeInfo(makeNode('small2', { memoryBytes: GiB, labels: { tier: 'db' } })),
      new NodeInfo(makeNode('web', { labels: { tier: 'web' } })),
    ];
    const plan = planPlacements(nodes, pendingTasks(2, 't', { memoryBytes: 2 * GiB, constraints: ['node.labels.tier==db'] }));
    expect(plan.assigned).toEqual([]);
    expect(plan.unschedulable.map((u) => u.message)).toEqual([
      'no suitable node (1 node not ready; 2 nodes not available for new tasks; insufficient memory on 2 nodes; scheduling constraints not satisfied on 1 node)',
      'no suitable node (1 node not ready; 2 nodes not available for new tasks; insufficient memory on 2 nodes; scheduling constraints not satisfied on 1 node)',
    ]);
  });

  it('honours max replicas per node, counting tasks already there', () => {
    const nodes = [...buildNodeInfos([makeNode('a'), makeNode('b'), makeNode('c')], [runningTask('r', 'a')]).values()];
    const plan = planPlacements(nodes, pendingTasks(4, 't', { maxReplicas: 1 }));
    expect(countByNode(plan)).toEqual({ b: 1, c: 1 });
    expect(plan.unschedulable.map((u) => u.message)).toEqual([
      'no suitable node (max replicas per node reached on 3 nodes)',
      'no suitable node (max replicas per node reached on 3 nodes)',
    ]);
  });

  it('places at most one task per node for a host-mode port, counting any service already holding it', () => {
    const nodes = [...buildNodeInfos([makeNode('a'), makeNode('b'), makeNode('c')], [runningTask('r', 'a', { serviceId: 'other', hostPorts: [8080] })]).values()];
    const plan = planPlacements(nodes, pendingTasks(3, 't', { hostPorts: [8080] }));
    expect(countByNode(plan)).toEqual({ b: 1, c: 1 });
    expect(plan.unschedulable.map((u) => u.message)).toEqual(['no suitable node (host-mode port already in use on 3 nodes)']);
  });

  it('picks a free port of the dynamic range for a host-mode port published as 0, per node', () => {
    const nodes = [...buildNodeInfos([makeNode('a'), makeNode('b')], [runningTask('r', 'a', { serviceId: 'other', hostPorts: [32768] })]).values()];
    const tasks = pendingTasks(4, 't', { hostPorts: [0] });
    const plan = planPlacements(nodes, tasks);
    const published = plan.assigned.map(({ task, nodeId }) => `${nodeId}:${task.endpoint!.ports[0]!.publishedPort}`).sort();
    expect(published).toEqual(['a:32769', 'a:32770', 'b:32768', 'b:32769']);
    // The tasks read are left as they were: the ports go only into the versions to write.
    expect(tasks.map((t) => t.endpoint!.ports[0]!.publishedPort)).toEqual([0, 0, 0, 0]);
  });

  it('places tasks with constraints only on matching nodes', () => {
    const nodes = [new NodeInfo(makeNode('a', { labels: { ssd: 'yes' } })), new NodeInfo(makeNode('b'))];
    const plan = planPlacements(nodes, pendingTasks(3, 't', { constraints: ['node.labels.ssd==yes'] }));
    expect(countByNode(plan)).toEqual({ a: 3 });
  });

  it('keeps services with different needs apart, while they share the nodes', () => {
    const nodes = infos(['a', 'b']);
    const plan = planPlacements(nodes, [
      ...pendingTasks(2, 'web', { serviceId: 'web' }),
      ...pendingTasks(1, 'db', { serviceId: 'db', constraints: ['node.id==a'] }),
      ...pendingTasks(1, 'cache', { serviceId: 'cache' }),
    ]);
    expect(plan.assigned.map((a) => `${a.task.meta?.id}@${a.nodeId}`)).toEqual(['web1@a', 'web2@b', 'db1@a', 'cache1@b']);
  });

  it('puts a task that names its node (a global service) there, or explains why not', () => {
    const nodes = [
      new NodeInfo(makeNode('a')),
      new NodeInfo(makeNode('b', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })),
      new NodeInfo(makeNode('c', { memoryBytes: GiB })),
    ];
    const plan = planPlacements(nodes, [
      makeTask('ga', { nodeId: 'a', memoryBytes: 2 * GiB }),
      makeTask('gb', { nodeId: 'b', memoryBytes: 2 * GiB }),
      makeTask('gc', { nodeId: 'c', memoryBytes: 2 * GiB }),
      makeTask('gx', { nodeId: 'x', memoryBytes: 2 * GiB }),
    ]);
    expect(plan.assigned.map((a) => `${a.task.meta?.id}@${a.nodeId}`)).toEqual(['ga@a']);
    expect(Object.fromEntries(plan.unschedulable.map((u) => [u.task.meta?.id, u.message]))).toEqual({
      gb: 'no suitable node (1 node not available for new tasks)',
      gc: 'no suitable node (insufficient memory on 1 node)',
      gx: 'no suitable node (node x is not in the cluster)',
    });
  });

  it('reports an invalid placement instead of throwing', () => {
    const plan = planPlacements(infos(['a']), [
      makeTask('bad-constraint', { constraints: ['zone=a'] }),
      makeTask('bad-spread', { serviceId: 'other', spread: ['node.zone'] }),
    ]);
    expect(plan.assigned).toEqual([]);
    expect(plan.unschedulable.map((u) => u.message)).toEqual([
      'invalid constraint "zone=a": expected KEY==VALUE or KEY!=VALUE',
      expect.stringContaining('invalid placement preference "spread=node.zone": unknown key "node.zone"'),
    ]);
  });

  it('says so when there are no nodes', () => {
    expect(planPlacements([], pendingTasks(1, 't')).unschedulable[0]!.message).toBe('no suitable node (no nodes in the cluster)');
  });

  it('decides the same way every time for the same input', () => {
    const run = (): string[] => {
      const nodes = Array.from({ length: 20 }, (_, i) => new NodeInfo(makeNode(`n${i}`, { labels: { zone: `z${i % 3}` } })));
      const tasks = [
        ...pendingTasks(50, 'a', { serviceId: 'a', spread: ['node.labels.zone'] }),
        ...pendingTasks(30, 'b', { serviceId: 'b', memoryBytes: GiB }),
      ];
      return planPlacements(nodes, tasks, 0).assigned.map((a) => `${a.task.meta?.id}@${a.nodeId}`);
    };
    expect(run()).toEqual(run());
  });
});
