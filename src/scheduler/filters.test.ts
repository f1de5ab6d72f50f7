import { describe, expect, it } from 'vitest';
import { NodeAvailability, NodeState, TaskState } from '../../proto/gen/objects.js';
import { explainRejections, filtersFor, passesAll, type Filter } from './filters.js';
import { NodeInfo } from './node-info.js';
import { CPU, GiB, makeNode, makeTask, runningTask, type NodeOptions, type TaskOptions } from './testing/objects.js';

function info(options: NodeOptions = {}, id = 'n1'): NodeInfo {
  return new NodeInfo(makeNode(id, options));
}

function filter(name: string, task: TaskOptions): Filter {
  const found = filtersFor(makeTask('t', task)).find((f) => f.name === name);
  if (found === undefined) throw new Error(`no ${name} filter`);
  return found;
}

describe('filters', () => {
  it('ready: only nodes whose status is READY', () => {
    const ready = filter('ready', {});
    expect(ready.check(info())).toBe(true);
    expect(ready.check(info({ state: NodeState.NODE_STATE_DOWN }))).toBe(false);
    expect(ready.check(info({ state: NodeState.NODE_STATE_DISCONNECTED }))).toBe(false);
    expect(ready.check(info({ state: NodeState.NODE_STATE_UNKNOWN }))).toBe(false);
    expect(ready.explain(1)).toBe('1 node not ready');
  });

  it('availability: paused and drained nodes take no new tasks', () => {
    const availability = filter('availability', {});
    expect(availability.check(info())).toBe(true);
    expect(availability.check(info({ availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }))).toBe(false);
    expect(availability.check(info({ availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }))).toBe(false);
    expect(availability.explain(3)).toBe('3 nodes not available for new tasks');
  });

  it('memory and cpu: the reservation must fit in what the node has left', () => {
    const node = new NodeInfo(makeNode('n1', { memoryBytes: 4 * GiB, nanoCpus: 2 * CPU }), [
      runningTask('r', 'n1', { memoryBytes: 3 * GiB, nanoCpus: CPU }),
    ]);
    expect(filter('memory', { memoryBytes: GiB }).check(node)).toBe(true);
    expect(filter('memory', { memoryBytes: GiB + 1 }).check(node)).toBe(false);
    expect(filter('cpu', { nanoCpus: CPU }).check(node)).toBe(true);
    expect(filter('cpu', { nanoCpus: 1.5 * CPU }).check(node)).toBe(false);
    expect(filter('memory', { memoryBytes: 1 }).explain(2)).toBe('insufficient memory on 2 nodes');
    expect(filter('cpu', { nanoCpus: 1 }).explain(1)).toBe('insufficient cpu on 1 node');
  });

  it('constraints: every expression must hold', () => {
    const constraints = filter('constraints', { constraints: ['node.labels.zone==a', 'node.role==worker'] });
    expect(constraints.check(info({ labels: { zone: 'a' } }))).toBe(true);
    expect(constraints.check(info({ labels: { zone: 'b' } }))).toBe(false);
    expect(constraints.explain(1)).toBe('scheduling constraints not satisfied on 1 node');
  });

  it('max replicas: counts the active tasks of the service on the node', () => {
    const node = new NodeInfo(makeNode('n1'), [runningTask('a', 'n1'), runningTask('b', 'n1', { serviceId: 'other' })]);
    expect(filter('max-replicas', { maxReplicas: 2 }).check(node)).toBe(true);
    expect(filter('max-replicas', { maxReplicas: 1 }).check(node)).toBe(false);
    expect(filter('max-replicas', { maxReplicas: 1, serviceId: 'third' }).check(node)).toBe(true);
    expect(filter('max-replicas', { maxReplicas: 1 }).explain(2)).toBe('max replicas per node reached on 2 nodes');
  });

  it('host port: a host-mode port is held by whatever task occupies the node with it, until it stops', () => {
    const stopping = runningTask('old', 'n1', { hostPorts: [8080], desiredState: TaskState.TASK_STATE_SHUTDOWN });
    const node = new NodeInfo(makeNode('n1'), [stopping, runningTask('b', 'n1', { serviceId: 'other', hostPorts: [9090] })]);
    expect(filter('host-port', { hostPorts: [8080] }).check(node)).toBe(false);
    expect(filter('host-port', { hostPorts: [9090], serviceId: 'third' }).check(node)).toBe(false);
    expect(filter('host-port', { hostPorts: [8081] }).check(node)).toBe(true);
    node.addTask(runningTask('old', 'n1', { hostPorts: [8080], state: TaskState.TASK_STATE_SHUTDOWN }));
    expect(filter('host-port', { hostPorts: [8080] }).check(node)).toBe(true);
    expect(filter('host-port', { hostPorts: [1] }).explain(2)).toBe('host-mode port already in use on 2 nodes');
    expect(filtersFor(makeTask('t')).map((f) => f.name)).not.toContain('host-port');
  });

  it('leaves out filters that cannot reject the task, and marks the ones that depend on placed tasks', () => {
    expect(filtersFor(makeTask('t')).map((f) => f.name)).toEqual(['ready', 'availability']);
    const all = filtersFor(makeTask('t', { memoryBytes: 1, nanoCpus: 1, constraints: ['node.id==x'], maxReplicas: 1 }));
    expect(all.map((f) => f.name)).toEqual(['ready', 'availability', 'memory', 'cpu', 'constraints', 'max-replicas']);
    expect(all.filter((f) => f.capacity).map((f) => f.name)).toEqual(['memory', 'cpu', 'max-replicas']);
  });

  it('throws on an invalid constraint', () => {
    expect(() => filtersFor(makeTask('t', { constraints: ['zone=a'] }))).toThrow('invalid constraint "zone=a"');
  });
});

describe('explainRejections', () => {
  const task = makeTask('t', { memoryBytes: 2 * GiB, constraints: ['node.labels.zone==a'] });
  const filters = filtersFor(task);

  it('counts each node under the first filter it fails, in pipeline order', () => {
    const nodes = [
      info({ memoryBytes: GiB, labels: { zone: 'a' } }, 'small-1'),
      info({ memoryBytes: GiB, labels: { zone: 'b' } }, 'small-2'),
      info({ labels: { zone: 'b' } }, 'wrong-zone'),
      info({ state: NodeState.NODE_STATE_DOWN, memoryBytes: GiB }, 'down'),
    ];
    expect(nodes.some((n) => passesAll(filters, n))).toBe(false);
    expect(explainRejections(filters, nodes)).toBe(
      'no suitable node (1 node not ready; insufficient memory on 2 nodes; scheduling constraints not satisfied on 1 node)',
    );
  });

  it('says so when there are no nodes at all', () => {
    expect(explainRejections(filters, [])).toBe('no suitable node (no nodes in the cluster)');
  });
});
