/** The Control calls on nodes: inspection (with the Raft view of managers) and operator changes. */
import { status } from '@grpc/grpc-js';
import type {
  GetNodeRequest,
  ListNodesRequest,
  ListNodesResponse,
  ManagerStatus,
  NodeResponse,
  RemoveNodeRequest,
  RemoveNodeResponse,
  UpdateNodeRequest,
} from '../../../proto/gen/control.js';
import { NodeRole, NodeSpec, NodeState, type Node } from '../../../proto/gen/objects.js';
import type { ReadTx, Store } from '../../store/types.js';
import { markRemoved } from '../cluster-object.js';
import { compareStrings } from './compare.js';
import { ControlError } from './control-errors.js';
import { findNode, notFound } from './lookup.js';
import { voteRemovalRefusal } from './manager-quorum.js';
import { managerStatuses, type ManagerView } from './manager-status.js';
import { validateNodeSpec } from './validate-node-spec.js';

export interface NodeHandlerDeps extends ManagerView {
  store: Store;
  /** Wall clock in ms since the epoch, for the removal record; Date.now by default. */
  now?: () => number;
}

export function nodeHandlers(deps: NodeHandlerDeps) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const withManagerStatus = (node: Node): NodeResponse => ({
    node,
    managerStatus: managerStatuses(deps).find((m: ManagerStatus) => m.raftId === node.meta!.id),
  });

  return {
    async getNode(req: GetNodeRequest): Promise<NodeResponse> {
      return withManagerStatus(store.view((tx) => findNode(tx, req.id)));
    },

    async listNodes(_req: ListNodesRequest): Promise<ListNodesResponse> {
      // all() may hand out the store's own array: sort a copy.
      const nodes = [...store.view((tx) => tx.nodes.all())];
      nodes.sort((a, b) => compareStrings(a.description?.hostname ?? '', b.description?.hostname ?? '') || compareStrings(a.meta!.id, b.meta!.id));
      return { nodes, managers: managerStatuses(deps) };
    },

    async updateNode(req: UpdateNodeRequest): Promise<NodeResponse> {
      const spec = validateNodeSpec(req.spec ?? NodeSpec.fromPartial({}));
      const id = await store.update((tx) => {
        const node = findNode(tx, req.id);
        const stored = node.meta!.version;
        if (req.version !== stored) {
          throw new ControlError(
            status.ABORTED,
            `update out of sequence: node ${nodeName(node)} is at version ${stored}, the update was based on version ${req.version}; read it again and retry`,
          );
        }
        const current = validateNodeSpec(node.spec ?? NodeSpec.fromPartial({}));
        // Promotion gives a Raft member (a manager that was demoted, or one still joining) its vote
        // back: the role manager does it once the member has caught up. A node that runs
        // `shoal worker` is no Raft member and has no manager process to promote. Demotion is
        // refused now if carrying it out would break the cluster.
        if (current.desiredRole === NodeRole.NODE_ROLE_WORKER && spec.desiredRole === NodeRole.NODE_ROLE_MANAGER) {
          if (!raftServers().some((server) => server.id === node.meta!.id)) {
            throw new ControlError(
              status.FAILED_PRECONDITION,
              `node ${nodeName(node)} is a worker, not a manager that was demoted: a worker is not promoted in place; run \`shoal manager --join ADDR --token TOKEN\` there with the manager join token`,
            );
          }
        }
        if (current.desiredRole === NodeRole.NODE_ROLE_MANAGER && spec.desiredRole === NodeRole.NODE_ROLE_WORKER) {
          const refusal = demotionRefusal(tx, node);
          if (refusal !== undefined) throw new ControlError(status.FAILED_PRECONDITION, `node ${nodeName(node)} cannot be demoted: ${refusal}`);
        }
        if (!Buffer.from(NodeSpec.encode(spec).finish()).equals(NodeSpec.encode(current).finish())) tx.nodes.update({ ...node, spec });
        return node.meta!.id;
      });
      const node = store.view((tx) => tx.nodes.get(id));
      if (node === undefined) throw notFound('node', id);
      return withManagerStatus(node);
    },

    async removeNode(req: RemoveNodeRequest): Promise<RemoveNodeResponse> {
      await store.update((tx) => {
        const node = findNode(tx, req.id);
        const down = node.status?.state === NodeState.NODE_STATE_DOWN;
        if (isUndemotedManager(node)) {
          // docker's rule: a manager is demoted before it is removed. A manager that is down cannot
          // be demoted in any useful sense, so --force removes it, from Raft too (the role manager does
          // that on seeing the removal record).
          if (!(req.force && down)) {
            throw new ControlError(
              status.FAILED_PRECONDITION,
              `node ${nodeName(node)} is a cluster manager and a member of the Raft cluster: demote it to worker before removing it (a manager that is down can be removed with --force)`,
            );
          }
          const refusal = demotionRefusal(tx, node);
          if (refusal !== undefined) throw new ControlError(status.FAILED_PRECONDITION, `node ${nodeName(node)} cannot be removed: ${refusal}`);
        }
        if (!down && !req.force) {
          throw new ControlError(status.FAILED_PRECONDITION, `node ${nodeName(node)} is not down and can't be removed (use --force)`);
        }
        markRemoved(tx, [node.meta!.id], now());
      });
      return {};
    },
  };

  /** Whether the node still holds, or is meant to keep, a manager's place in Raft. */
  function isUndemotedManager(node: Node): boolean {
    const member = raftServers().find((server) => server.id === node.meta!.id);
    if (member === undefined) return false;
    return member.suffrage === 'voter' || node.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER;
  }

  /** Why `node` may not lose its vote now; demotions already asked for count as gone. */
  function demotionRefusal(tx: ReadTx, node: Node): string | undefined {
    const servers = raftServers();
    const reachable = new Set(managerStatuses(deps).filter((m) => m.reachability === 'reachable').map((m) => m.raftId));
    const leaving = new Set(
      servers.filter((server) => server.id !== node.meta!.id && tx.nodes.get(server.id)?.spec?.desiredRole === NodeRole.NODE_ROLE_WORKER).map((server) => server.id),
    );
    return voteRemovalRefusal({ servers, id: node.meta!.id, reachable: (id) => reachable.has(id), leaving });
  }

  function raftServers() {
    return deps.raft.getConfiguration().configuration.servers;
  }
}

function nodeName(node: Node): string {
  return node.description?.hostname || node.meta!.id;
}
