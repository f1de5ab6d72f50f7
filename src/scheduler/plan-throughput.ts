/**
 * Measures the planner alone: `node dist/src/scheduler/plan-throughput.js [--nodes N] [--tasks N]`
 * (after `npm run build`) prints one JSON object with placements per second. The whole pipeline
 * target is 10,000/s with store writes through Raft, so the planner should stay well above that.
 */
import { parseArgs } from 'node:util';
import { NodeAvailability, NodeRole, NodeState, TaskState, type Node, type Task } from '../../proto/gen/objects.js';
import { NodeInfo } from './node-info.js';
import { planPlacements } from './schedule.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '1000' }, tasks: { type: 'string', default: '100000' }, zones: { type: 'string', default: '0' } },
});
const nodeCount = Number(values.nodes);
const taskCount = Number(values.tasks);
const zones = Number(values.zones);

function node(i: number): Node {
  return {
    meta: { id: `node${String(i).padStart(6, '0')}`, version: 1, createdAt: 0, updatedAt: 0 },
    spec: { annotations: { name: '', labels: zones > 0 ? { zone: `z${i % zones}` } : {} }, desiredRole: NodeRole.NODE_ROLE_WORKER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: { hostname: `host${i}`, platform: { os: 'linux', architecture: 'amd64' }, resources: { nanoCpus: 64e9, memoryBytes: 256 * 2 ** 30 }, labels: {} },
    status: { state: NodeState.NODE_STATE_READY, message: '', addr: '' },
    role: NodeRole.NODE_ROLE_WORKER,
    attachments: [],
  };
}

function task(i: number): Task {
  return {
    meta: { id: `task${i}`, version: 1, createdAt: 0, updatedAt: 0 },
    serviceId: 'svc',
    slot: i + 1,
    nodeId: '',
    spec: {
      resources: { reservations: { nanoCpus: 1e7, memoryBytes: 2 ** 20 } },
      placement: { constraints: ['node.role==worker'], preferences: zones > 0 ? [{ spread: 'node.labels.zone' }] : [], maxReplicas: 0 },
      forceUpdate: 0,
      networks: [],
    },
    specVersion: 1,
    desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state: TaskState.TASK_STATE_PENDING, timestamp: 0, message: '', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 },
    networks: [],
    endpoint: undefined,
  };
}

const nodes = Array.from({ length: nodeCount }, (_, i) => new NodeInfo(node(i)));
const tasks = Array.from({ length: taskCount }, (_, i) => task(i));
const started = performance.now();
const plan = planPlacements(nodes, tasks);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  JSON.stringify({
    nodes: nodeCount,
    tasks: taskCount,
    zones,
    assigned: plan.assigned.length,
    unschedulable: plan.unschedulable.length,
    seconds: Number(seconds.toFixed(3)),
    placementsPerSecond: Math.round(plan.assigned.length / seconds),
  }) + '\n',
);
