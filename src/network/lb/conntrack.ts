/**
 * Forgetting the flows of backends that went away, as Docker's IPVS does with expire_nodest_conn.
 *
 * A DNAT rule is consulted only for a flow's first packet; conntrack keeps the binding for the
 * rest. A UDP "flow" is a client address and port: a client that keeps sending from one port
 * (a resolver, statsd) refreshes its entry with every datagram, so after its backend is removed
 * from the table it would go on reaching that backend for as long as it keeps talking. Deleting
 * the entry makes its next datagram new again, and the current rules pick a live backend.
 *
 * UDP only. A TCP connection to a backend that really is gone fails and the client reconnects
 * from a new port, through the rules; and a backend may be removed from the table while its task
 * still runs (draining before it stops), when deleting the entry would move the connection's next
 * segment to another backend, which answers it with a reset. UDP has no connection to break.
 *
 * Only entries DNATed to the address are deleted (`--dst-nat`), not traffic that reached it
 * without translation. `applyTable` (nft.ts) calls this after every write, for the addresses the
 * write dropped.
 */
import { CommandError, runCommand } from '../overlay/command.js';
import type { Netns } from '../overlay/iproute.js';
import { inNamespace } from './namespace.js';
import { canonicalAddress } from './values.js';

/** `conntrack -D` exits 1 with this when no entry matched, which is not a failure here. */
const NOTHING_DELETED = /\b0 flow entries have been deleted/;

/** Deletes the namespace's UDP conntrack entries that were DNATed to any of these addresses. */
export async function deleteUdpFlows(ns: Netns, addresses: readonly string[]): Promise<void> {
  const checked = addresses.map(canonicalAddress);
  for (const address of checked) {
    try {
      await runCommand(inNamespace(ns, ['conntrack', '-D', '-p', 'udp', '--dst-nat', address]));
    } catch (err) {
      if (!(err instanceof CommandError && err.exitCode === 1 && NOTHING_DELETED.test(err.stderr))) throw err;
    }
  }
}

