import type { Configuration, ServerId } from '../types.js';

/** Quorum arithmetic over a configuration's voters; non-voters never count. */

export function voterIds(configuration: Configuration): ServerId[] {
  return configuration.servers.filter((s) => s.suffrage === 'voter').map((s) => s.id);
}

export function isVoter(configuration: Configuration, id: ServerId): boolean {
  return configuration.servers.some((s) => s.id === id && s.suffrage === 'voter');
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index held by a quorum of voters (0 when there are no voters). */
export function quorumMatchIndex(voters: ServerId[], matchOf: (id: ServerId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1];
}

export function hasQuorum(voters: ServerId[], agreed: (id: ServerId) => boolean): boolean {
  if (voters.length === 0) return false;
  return voters.filter(agreed).length >= quorumSize(voters.length);
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tallies votes cast by voters (true = granted); votes from anyone else are ignored. */
export function voteOutcome(voters: ServerId[], votes: ReadonlyMap<ServerId, boolean>): VoteOutcome {
  const quorum = quorumSize(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (granted >= quorum) return 'won';
  if (rejected > voters.length - quorum) return 'lost';
  return 'pending';
}
