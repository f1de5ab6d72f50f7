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
import { NodeSpec, NodeState, type Node } from '../../../proto/gen/objects.js';
import type { Store } from '../../store/types.js';
import { compareStrings } from './compare.js';
import { ControlError } from './control-errors.js';
import { findNode, notFound } from './lookup.js';
import { managerStatuses, type ManagerView } from './manager-status.js';
import { validateNodeSpec } from './validate-node-spec.js';

export interface NodeHandlerDeps extends ManagerView {
  store: Store;
}

export function nodeHandlers(deps: NodeHandlerDeps) {
  const { store } = deps;
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
        if (spec.desiredRole !== current.desiredRole) {
          // Promotion and demotion change Raft membership, which arrives with joining managers.
          throw new ControlError(status.FAILED_PRECONDITION, `changing the role of node ${nodeName(node)} is not supported yet`);
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
        if (deps.raft.getConfiguration().configuration.servers.some((server) => server.id === node.meta!.id)) {
          throw new ControlError(
            status.FAILED_PRECONDITION,
            `node ${nodeName(node)} is a manager (a Raft member) and cannot be removed while it is one`,
          );
        }
        if (node.status?.state !== NodeState.NODE_STATE_DOWN && !req.force) {
          throw new ControlError(status.FAILED_PRECONDITION, `node ${nodeName(node)} is not down and can't be removed (use --force)`);
        }
        tx.nodes.delete(node);
      });
      return {};
    },
  };
}

function nodeName(node: Node): string {
  return node.description?.hostname || node.meta!.id;
}
