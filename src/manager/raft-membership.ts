/**
 * The role manager's view of Raft (role-manager.ts RaftMembership) over a real RaftNode and its
 * gRPC transport: catch-up progress from the leader's replication state, reachability from the
 * transport's live streams (as `node ls` shows it, controlapi/manager-status.ts).
 */
import type { RaftNode } from '../raft/node.js';
import type { PeerStatus } from '../raft/transport/grpc.js';
import type { RaftMembership } from './role-manager.js';

export function raftMembership(selfId: string, node: RaftNode, peerStatus: () => PeerStatus[]): RaftMembership {
  return {
    selfId,
    getConfiguration: () => node.getConfiguration(),
    progress: (id) => {
      const status = node.inspect();
      const progress = status.progress[id];
      return progress === undefined ? undefined : { matchIndex: progress.match, lastIndex: status.lastIndex };
    },
    reachable: (id) => id === selfId || peerStatus().some((peer) => peer.id === id && peer.connected),
    addVoter: (id, address, prevIndex, timeoutMs) => node.addVoter(id, address, prevIndex, timeoutMs),
    demoteVoter: (id, prevIndex, timeoutMs) => node.demoteVoter(id, prevIndex, timeoutMs),
    removeServer: (id, prevIndex, timeoutMs) => node.removeServer(id, prevIndex, timeoutMs),
    leadershipTransfer: (target, timeoutMs) => node.leadershipTransfer(target, timeoutMs),
  };
}
