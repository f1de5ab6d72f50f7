/**
 * The one rule both the control API (demote, remove) and the role manager (before it changes Raft)
 * apply when a manager is to lose its vote, after swarmkit's CanRemoveMember: the voters that remain
 * must still be able to elect a leader and commit, counting only those reachable now. So the last
 * manager is never demoted, and neither is one whose departure would leave fewer reachable voters
 * than a majority of those remaining. Taking away the vote of an unreachable manager never makes
 * things worse, so a down manager can always go.
 */
import type { Server } from '../../raft/types.js';

export interface VoteRemoval {
  /** The Raft configuration in force. */
  servers: readonly Server[];
  /** The voter to lose its vote. */
  id: string;
  /** Whether a server is reachable now (the answering manager counts itself). */
  reachable: (id: string) => boolean;
  /** Voters already on their way out (demotions requested, not yet carried out). */
  leaving?: ReadonlySet<string>;
}

/** Why taking the vote away would break the cluster, or undefined when it is safe (or `id` holds no vote). */
export function voteRemovalRefusal(change: VoteRemoval): string | undefined {
  const voters = change.servers.filter((server) => server.suffrage === 'voter');
  if (!voters.some((server) => server.id === change.id)) return undefined;
  const remaining = voters.filter((server) => server.id !== change.id && !change.leaving?.has(server.id));
  if (remaining.length === 0) return 'it is the last manager of the cluster';
  const quorum = Math.floor(remaining.length / 2) + 1;
  const reachable = remaining.filter((server) => change.reachable(server.id)).length;
  if (reachable >= quorum) return undefined;
  return `the cluster would lose its quorum: of the ${remaining.length} managers that would remain, ${quorum} must be reachable and ${reachable} ${reachable === 1 ? 'is' : 'are'}`;
}
