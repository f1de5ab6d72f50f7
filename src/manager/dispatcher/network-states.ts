/**
 * Which nodes' network states (network-state.ts) store events may have changed, and whether they
 * did. Events only mark what they touch (networks, services, nodes); a batch then recomputes just
 * the nodes with a session that are on a marked network or whose own tasks or address moved, and
 * reports those whose state differs from the one their session was last sent. So a burst of task
 * changes costs one recompute per batch, and a change on one network leaves the others' nodes
 * alone.
 */
import { createHash } from 'node:crypto';
import { NetworkState } from '../../../proto/gen/dispatcher.js';
import { EndpointSpec, type Node, type Service, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx, StoreEvent } from '../../store/types.js';
import { mayBeRunningOnNode } from '../orchestrator/task.js';
import { publishesIngress } from '../allocator/needs-allocation.js';
import { isAssigned } from './assignments.js';
import { NetworkIndex, nodeNetworks, taskNetworks } from './network-index.js';
import { isServing, NetworkStateBuilder } from './network-state.js';

interface Sent {
  digest: string;
  networkIds: string[];
}

export class NetworkStates {
  private readonly index = new NetworkIndex();
  /** What each node's session was last sent; nodes without a session (or not sent one yet) are absent. */
  private readonly sent = new Map<string, Sent>();
  /** Network id → the nodes whose last state has it. */
  private readonly members = new Map<string, Set<string>>();
  /** Whether the routing mesh was on when states were last computed. */
  private meshOn = false;
  private everything = false;
  private readonly dirtyNetworks = new Set<string>();
  /** Nodes whose own network set or addresses may have changed. */
  private readonly dirtyNodes = new Set<string>();
  /** Nodes whose underlay address changed or that are gone: their tasks' networks change for everyone. */
  private readonly movedNodes = new Set<string>();
  /** Services whose endpoints changed: every network they appear on changes. */
  private readonly dirtyServices = new Set<string>();

  /** Starts from the store as it is (leadership began, or the store was replaced). */
  reset(tx: ReadTx): void {
    this.index.rebuild(tx);
    this.meshOn = new NetworkStateBuilder(tx, this.index).meshNetworkId !== undefined;
    // No event says what a replaced store changed: every state already sent is looked at again.
    this.everything = this.sent.size > 0;
  }

  /** Takes a batch of store events; true when some node's state may have changed. */
  observe(events: readonly StoreEvent[]): boolean {
    for (const event of events) {
      this.index.apply(event);
      if (event.kind === 'task') this.onTask(...beforeAfter(event));
      else if (event.kind === 'service') this.onService(...beforeAfter(event));
      else if (event.kind === 'node') this.onNode(...beforeAfter(event));
      else if (event.kind === 'network' && event.action !== 'create') this.dirtyNetworks.add(event.object.meta?.id ?? '');
    }
    return this.pending;
  }

  get pending(): boolean {
    return this.everything || this.dirtyNetworks.size > 0 || this.dirtyNodes.size > 0 || this.movedNodes.size > 0 || this.dirtyServices.size > 0;
  }

  /** The node's state for the first message of its session, recorded as sent. */
  first(tx: ReadTx, nodeId: string): NetworkState {
    const state = new NetworkStateBuilder(tx, this.index).stateFor(nodeId);
    this.record(nodeId, state);
    return state;
  }

  /** The session ended: its next one starts with a whole state again. */
  forget(nodeId: string): void {
    const sent = this.sent.get(nodeId);
    if (sent === undefined) return;
    this.sent.delete(nodeId);
    for (const id of sent.networkIds) this.members.get(id)?.delete(nodeId);
  }

  /** The new states of nodes that were sent one and whose state changed since, recorded as sent. */
  changes(tx: ReadTx): Map<string, NetworkState> {
    const builder = new NetworkStateBuilder(tx, this.index);
    const meshOn = builder.meshNetworkId !== undefined;
    const affected = this.everything || meshOn !== this.meshOn ? new Set(this.sent.keys()) : this.affected(tx);
    this.meshOn = meshOn;
    this.everything = false;
    this.dirtyNetworks.clear();
    this.dirtyNodes.clear();
    this.movedNodes.clear();
    this.dirtyServices.clear();
    const changed = new Map<string, NetworkState>();
    for (const nodeId of affected) {
      const state = builder.stateFor(nodeId);
      if (this.record(nodeId, state)) changed.set(nodeId, state);
    }
    return changed;
  }

  private affected(tx: ReadTx): Set<string> {
    const networks = new Set(this.dirtyNetworks);
    for (const serviceId of this.dirtyServices) {
      for (const vip of tx.services.get(serviceId)?.endpoint?.virtualIps ?? []) networks.add(vip.networkId);
      for (const task of tx.tasks.byService(serviceId)) for (const id of taskNetworks(task)) networks.add(id);
    }
    for (const nodeId of this.movedNodes) {
      for (const task of tx.tasks.byNode(nodeId)) for (const id of taskNetworks(task)) networks.add(id);
    }
    const affected = new Set<string>();
    for (const nodeId of this.dirtyNodes) if (this.sent.has(nodeId)) affected.add(nodeId);
    for (const id of networks) for (const nodeId of this.members.get(id) ?? []) affected.add(nodeId);
    return affected;
  }

  /** Records the state as the node's last one; false if it equals the one already recorded. */
  private record(nodeId: string, state: NetworkState): boolean {
    const digest = createHash('sha256').update(NetworkState.encode(state).finish()).digest('base64');
    const previous = this.sent.get(nodeId);
    if (previous?.digest === digest) return false;
    this.forget(nodeId);
    const networkIds = state.networks.map((n) => n.network?.meta?.id ?? '');
    this.sent.set(nodeId, { digest, networkIds });
    for (const id of networkIds) {
      let nodes = this.members.get(id);
      if (nodes === undefined) this.members.set(id, (nodes = new Set()));
      nodes.add(nodeId);
    }
    return true;
  }

  private onTask(before: Task | undefined, after: Task | undefined): void {
    if (before !== undefined && after !== undefined && taskFace(before) === taskFace(after)) return;
    const tasks = [before, after].filter((t) => t !== undefined);
    const networks = tasks.flatMap(taskNetworks);
    // A task on no network shows in no state (most tasks, when services use no networks).
    if (networks.length === 0) return;
    for (const id of networks) this.dirtyNetworks.add(id);
    for (const t of tasks) {
      if (t.nodeId !== '') this.dirtyNodes.add(t.nodeId);
      this.dirtyServices.add(t.serviceId);
    }
  }

  private onService(before: Service | undefined, after: Service | undefined): void {
    if (before !== undefined && after !== undefined && serviceFace(before) === serviceFace(after)) return;
    const service = after ?? before!;
    for (const s of [before, after]) for (const vip of s?.endpoint?.virtualIps ?? []) this.dirtyNetworks.add(vip.networkId);
    this.dirtyServices.add(service.meta?.id ?? '');
  }

  private onNode(before: Node | undefined, after: Node | undefined): void {
    if (before === undefined) return;
    const node = after ?? before;
    const id = node.meta?.id ?? '';
    const moved = after === undefined || before.status?.addr !== after.status?.addr;
    const attachments = (n: Node | undefined) => (n?.attachments ?? []).map((a) => `${a.networkId} ${a.address}`).join(',');
    if (!moved && attachments(before) === attachments(after)) return;
    this.dirtyNodes.add(id);
    if (moved) this.movedNodes.add(id);
    for (const n of [before, after]) if (n !== undefined) for (const networkId of nodeNetworks(n)) this.dirtyNetworks.add(networkId);
  }
}

/** The object before and after the event: undefined before a create, after a delete. */
function beforeAfter<T>(event: { action: 'create'; object: T } | { action: 'update'; object: T; old: T } | { action: 'delete'; object: T }): [T | undefined, T | undefined] {
  if (event.action === 'create') return [undefined, event.object];
  if (event.action === 'update') return [event.old, event.object];
  return [event.object, undefined];
}

/** What of a task a network state shows: where it is, whether it is a peer or serving, its addresses. */
function taskFace(task: Task): string {
  const addresses = task.networks.map((a) => `${a.networkId} ${a.address} ${a.aliases.join(' ')}`).join(',');
  return `${task.nodeId}|${isAssigned(task)}|${mayBeRunningOnNode(task)}|${isServing(task)}|${task.slot}|${addresses}`;
}

/** What of a service a network state shows, and whether it puts every node on the ingress network. */
function serviceFace(service: Service): string {
  const endpoint = service.endpoint;
  const spec = Buffer.from(EndpointSpec.encode(endpoint?.spec ?? EndpointSpec.fromPartial({})).finish()).toString('base64');
  const vips = (endpoint?.virtualIps ?? []).map((v) => `${v.networkId} ${v.address}`).join(',');
  const ports = (endpoint?.ports ?? []).map((p) => `${p.protocol}/${p.targetPort}/${p.publishedPort}/${p.publishMode}`).join(',');
  return `${service.spec?.annotations?.name ?? ''}|${service.spec?.endpoint?.mode ?? 0}|${publishesIngress(service.spec)}|${spec}|${vips}|${ports}`;
}
