/**
 * Remote peers of a network: endpoints on other nodes. Each is two static entries on the
 * sandbox's vxlan0, pushed by the managers instead of learnt: a neighbour entry (address → MAC),
 * from which vxlan0 answers the containers' ARP requests itself (`proxy`), and an FDB entry
 * (MAC → the peer node's underlay address), which tells vxlan0 where to send the frame.
 *
 * The caller gives the whole desired set; `planPeers` compares it with the tables and
 * `applyPeerPlan` adds what is missing and removes what is no longer wanted, so a second call
 * with the same set changes nothing. A neighbour entry goes before its FDB entry is removed and
 * comes after it is added, so the kernel never answers ARP for a MAC it cannot deliver to.
 */
import { parseAddress } from '../../common/ipv4.js';
import { bridgeBatch, bridgeJson, ipBatch, ipJson, type BridgeFdbEntry, type IpNeighbour } from './iproute.js';
import { macForAddress } from './names.js';
import { VXLAN } from './sandbox.js';

export interface Peer {
  /** The remote endpoint's overlay address. */
  address: string;
  /** The underlay address of the node it runs on. */
  underlay: string;
}

export interface PeerTables {
  /** vxlan0's neighbour entries. */
  neighbours: { address: string; mac: string }[];
  /** vxlan0's own FDB entries that send a MAC to a remote address. */
  fdb: { mac: string; dst: string }[];
}

export interface PeerPlan {
  neighboursToRemove: string[];
  fdbToRemove: { mac: string; dst: string }[];
  fdbToAdd: { mac: string; dst: string }[];
  neighboursToAdd: { address: string; mac: string }[];
}

export function planPeers(current: PeerTables, desired: readonly Peer[]): PeerPlan {
  const wanted = new Map<string, Peer>();
  for (const peer of desired) {
    parseAddress(peer.address);
    parseAddress(peer.underlay);
    const other = wanted.get(peer.address);
    if (other !== undefined && other.underlay !== peer.underlay) {
      throw new Error(`peer ${peer.address} is given on two nodes (${other.underlay} and ${peer.underlay})`);
    }
    wanted.set(peer.address, peer);
  }
  const wantedNeighbours = new Map([...wanted.keys()].map((a) => [a, macForAddress(a)]));
  const wantedFdb = new Set([...wanted.values()].map((p) => fdbKey(macForAddress(p.address), p.underlay)));
  const haveNeighbours = new Map(current.neighbours.map((n) => [n.address, n.mac]));
  const haveFdb = new Set(current.fdb.map((e) => fdbKey(e.mac, e.dst)));
  return {
    neighboursToRemove: current.neighbours.filter((n) => wantedNeighbours.get(n.address) !== n.mac).map((n) => n.address),
    fdbToRemove: current.fdb.filter((e) => !wantedFdb.has(fdbKey(e.mac, e.dst))),
    fdbToAdd: [...wanted.values()]
      .map((p) => ({ mac: macForAddress(p.address), dst: p.underlay }))
      .filter((e) => !haveFdb.has(fdbKey(e.mac, e.dst))),
    neighboursToAdd: [...wantedNeighbours]
      .filter(([address, mac]) => haveNeighbours.get(address) !== mac)
      .map(([address, mac]) => ({ address, mac })),
  };
}

export function isEmptyPlan(plan: PeerPlan): boolean {
  return Object.values(plan).every((list: unknown[]) => list.length === 0);
}

export async function readPeerTables(sandbox: string): Promise<PeerTables> {
  const [neighbours, fdb] = await Promise.all([
    ipJson<IpNeighbour>(sandbox, ['neigh', 'show', 'dev', VXLAN]),
    bridgeJson<BridgeFdbEntry>(sandbox, ['fdb', 'show', 'dev', VXLAN]),
  ]);
  return {
    neighbours: neighbours.filter((n) => n.lladdr !== undefined).map((n) => ({ address: n.dst, mac: n.lladdr! })),
    // Entries with a master are the bridge's own view of the port (learnt or local MACs), not ours.
    fdb: fdb.filter((e) => e.dst !== undefined && e.master === undefined).map((e) => ({ mac: e.mac, dst: e.dst! })),
  };
}

export async function applyPeerPlan(sandbox: string, plan: PeerPlan): Promise<void> {
  await ipBatch(sandbox, plan.neighboursToRemove.map((a) => `neigh del ${a} dev ${VXLAN}`));
  await bridgeBatch(sandbox, [
    ...plan.fdbToRemove.map((e) => `fdb del ${e.mac} dev ${VXLAN} dst ${e.dst} self`),
    ...plan.fdbToAdd.map((e) => `fdb replace ${e.mac} dev ${VXLAN} dst ${e.dst} self permanent`),
  ]);
  await ipBatch(sandbox, plan.neighboursToAdd.map((n) => `neigh replace ${n.address} lladdr ${n.mac} dev ${VXLAN} nud permanent`));
}

function fdbKey(mac: string, dst: string): string {
  return `${mac} ${dst}`;
}
