import type { Node, Task } from '../../proto/gen/objects.js';
import { taskHostPorts } from './host-ports.js';
import { isActiveOnNode, occupiesNode } from './task-states.js';

export interface ResourceAmounts {
  nanoCpus: number;
  memoryBytes: number;
}

/** What a task reserves on its node (zero when its spec reserves nothing). */
export function taskReservations(task: Task): ResourceAmounts {
  const reservations = task.spec?.resources?.reservations;
  return { nanoCpus: reservations?.nanoCpus ?? 0, memoryBytes: reservations?.memoryBytes ?? 0 };
}

/**
 * A node as the scheduler sees it: the node object plus the tasks placed on it. It keeps the counts
 * ranking needs (active tasks overall and per service) and the resources still free, so that a
 * placement decision never has to look at the task table.
 */
export class NodeInfo {
  private current: Node;
  /** Tasks that occupy this node (assigned and not finished), by task id. */
  private readonly tasks = new Map<string, Task>();
  private readonly activeByService = new Map<string, number>();
  private active = 0;
  private reservedCpus = 0;
  private reservedMemory = 0;
  /** Host-mode ports held by the tasks occupying the node, with how many hold each (normally one). */
  private readonly hostPorts = new Map<string, number>();

  constructor(node: Node, tasks: Iterable<Task> = []) {
    this.current = node;
    for (const task of tasks) this.addTask(task);
  }

  get id(): string {
    return this.current.meta?.id ?? '';
  }

  get node(): Node {
    return this.current;
  }

  /** Replaces the node object (a node update); the tasks on it stay. */
  setNode(node: Node): void {
    this.current = node;
  }

  /** Tasks on this node that are meant to keep running. */
  get activeTasks(): number {
    return this.active;
  }

  activeTasksOfService(serviceId: string): number {
    return this.activeByService.get(serviceId) ?? 0;
  }

  /** The node's resources minus the reservations of the tasks occupying it; may be negative if the node shrank. */
  get available(): ResourceAmounts {
    const total = this.current.description?.resources;
    return {
      nanoCpus: (total?.nanoCpus ?? 0) - this.reservedCpus,
      memoryBytes: (total?.memoryBytes ?? 0) - this.reservedMemory,
    };
  }

  /** Whether a task occupying this node publishes this host-mode port (a `taskHostPorts` key: `<protocol>/<port>`). */
  hostPortInUse(key: string): boolean {
    return this.hostPorts.has(key);
  }

  hasTask(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /**
   * Records the latest version of a task on this node. A task that no longer occupies the node
   * (finished, or not yet assigned) is dropped instead, so callers can feed every version through.
   */
  addTask(task: Task): void {
    const id = task.meta?.id ?? '';
    this.removeTask(id);
    if (!occupiesNode(task)) return;
    this.tasks.set(id, task);
    this.count(task, +1);
  }

  /**
   * Forgets a task. With `only`, forgets it only while the recorded version is that very object:
   * undoing a placement must not erase a newer version the store reported meanwhile.
   */
  removeTask(taskId: string, only?: Task): boolean {
    const recorded = this.tasks.get(taskId);
    if (recorded === undefined || (only !== undefined && recorded !== only)) return false;
    this.tasks.delete(taskId);
    this.count(recorded, -1);
    return true;
  }

  private count(task: Task, sign: 1 | -1): void {
    const reserved = taskReservations(task);
    this.reservedCpus += sign * reserved.nanoCpus;
    this.reservedMemory += sign * reserved.memoryBytes;
    for (const key of taskHostPorts(task)) {
      const held = (this.hostPorts.get(key) ?? 0) + sign;
      if (held === 0) this.hostPorts.delete(key);
      else this.hostPorts.set(key, held);
    }
    if (!isActiveOnNode(task)) return;
    this.active += sign;
    const n = (this.activeByService.get(task.serviceId) ?? 0) + sign;
    if (n === 0) this.activeByService.delete(task.serviceId);
    else this.activeByService.set(task.serviceId, n);
  }
}

/** NodeInfos for every node, each with the tasks the given list places on it. */
export function buildNodeInfos(nodes: readonly Node[], tasks: readonly Task[]): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const node of nodes) {
    const info = new NodeInfo(node);
    infos.set(info.id, info);
  }
  for (const task of tasks) {
    if (occupiesNode(task)) infos.get(task.nodeId)?.addTask(task);
  }
  return infos;
}
