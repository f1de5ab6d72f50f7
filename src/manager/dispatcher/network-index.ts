/**
 * Who holds an address on each overlay network: task ids (Task.networks) and node ids
 * (Node.attachments). The store indexes tasks by node and by service but not by network, and the
 * network states (network-states.ts) need, per network, everything on it without scanning every
 * task. Kept from the same store events the dispatcher watches; rebuilt after a restore.
 */
import type { Node, Task } from '../../../proto/gen/objects.js';
import type { ReadTx, StoreEvent } from '../../store/types.js';

export class NetworkIndex {
  private readonly tasks = new Map<string, Set<string>>();
  private readonly nodes = new Map<string, Set<string>>();

  rebuild(tx: ReadTx): void {
    this.tasks.clear();
    this.nodes.clear();
    for (const task of tx.tasks.all()) this.put(this.tasks, task.meta?.id ?? '', taskNetworks(task));
    for (const node of tx.nodes.all()) this.put(this.nodes, node.meta?.id ?? '', nodeNetworks(node));
  }

  apply(event: StoreEvent): void {
    if (event.kind === 'task') {
      const id = event.object.meta?.id ?? '';
      if (event.action !== 'create') this.drop(this.tasks, id, taskNetworks(event.action === 'update' ? event.old : event.object));
      if (event.action !== 'delete') this.put(this.tasks, id, taskNetworks(event.object));
    } else if (event.kind === 'node') {
      const id = event.object.meta?.id ?? '';
      if (event.action !== 'create') this.drop(this.nodes, id, nodeNetworks(event.action === 'update' ? event.old : event.object));
      if (event.action !== 'delete') this.put(this.nodes, id, nodeNetworks(event.object));
    }
  }

  /** Ids of the tasks with an address on the network, whatever their state. */
  tasksOn(networkId: string): ReadonlySet<string> {
    return this.tasks.get(networkId) ?? NONE;
  }

  /** Ids of the nodes with their own address on the network. */
  nodesOn(networkId: string): ReadonlySet<string> {
    return this.nodes.get(networkId) ?? NONE;
  }

  private put(index: Map<string, Set<string>>, id: string, networkIds: readonly string[]): void {
    for (const networkId of networkIds) {
      let ids = index.get(networkId);
      if (ids === undefined) index.set(networkId, (ids = new Set()));
      ids.add(id);
    }
  }

  private drop(index: Map<string, Set<string>>, id: string, networkIds: readonly string[]): void {
    for (const networkId of networkIds) {
      const ids = index.get(networkId);
      ids?.delete(id);
      if (ids?.size === 0) index.delete(networkId);
    }
  }
}

const NONE: ReadonlySet<string> = new Set();

export function taskNetworks(task: Task): string[] {
  return task.networks.filter((a) => a.address !== '').map((a) => a.networkId);
}

export function nodeNetworks(node: Node): string[] {
  return node.attachments.filter((a) => a.address !== '').map((a) => a.networkId);
}
