/**
 * How a manager that cannot serve a node's call turns it away: UNAVAILABLE, with the leader's
 * address (where the dispatcher is served too) in the trailing metadata and in the message, so the
 * node reconnects straight there. Used when a leader steps down, when a follower knows no leader to
 * forward to, and for a forwarded call reaching a manager that does not lead.
 */
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';

export const LEADER_ADDRESS_METADATA = 'shoal-leader-addr';

export function notLeaderStatus(leaderAddress: string | undefined): Partial<StatusObject> {
  const metadata = new Metadata();
  if (leaderAddress) metadata.set(LEADER_ADDRESS_METADATA, leaderAddress);
  const details = leaderAddress
    ? `this manager is not the leader; the leader is at ${leaderAddress}`
    : 'this manager is not the leader, and no leader is known yet';
  return { code: status.UNAVAILABLE, details, metadata };
}

/** The leader's address from a refusal's metadata, if the refusing manager knew it. */
export function leaderAddressFrom(metadata: Metadata | undefined): string | undefined {
  const [value] = metadata?.get(LEADER_ADDRESS_METADATA) ?? [];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
