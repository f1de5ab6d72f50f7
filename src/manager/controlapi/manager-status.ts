/**
 * The managers as the answering manager sees them: the servers of the latest Raft configuration,
 * which one leads, and whether this manager's Raft transport currently holds a connection to each.
 */
import type { ManagerStatus } from '../../../proto/gen/control.js';
import type { RaftNode } from '../../raft/node.js';
import type { PeerStatus } from '../../raft/transport/grpc.js';

export type RaftInfo = Pick<RaftNode, 'state' | 'leader' | 'stats' | 'getConfiguration'>;

export interface ManagerView {
  raft: RaftInfo;
  /** This manager's Raft server id. */
  raftId: string;
  /** The gRPC transport's links to its peers; without it, peers' reachability is "unknown". */
  raftPeerStatus?: () => PeerStatus[];
}

export function managerStatuses(view: ManagerView): ManagerStatus[] {
  const leaderId = view.raft.leader()?.id;
  const peers = new Map((view.raftPeerStatus?.() ?? []).map((peer) => [peer.id, peer]));
  return view.raft.getConfiguration().configuration.servers.map((server) => ({
    raftId: server.id,
    addr: server.address,
    leader: server.id === leaderId,
    suffrage: server.suffrage,
    reachability: reachability(server.id, view, peers),
  }));
}

function reachability(id: string, view: ManagerView, peers: Map<string, PeerStatus>): string {
  if (id === view.raftId) return 'reachable';
  const peer = peers.get(id);
  if (peer === undefined) return 'unknown';
  return peer.connected ? 'reachable' : 'unreachable';
}
