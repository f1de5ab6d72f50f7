/**
 * The node's gateway bridge, Docker's docker_gwbridge: one bridge per node, in the node's own
 * namespace, giving a container an address the node can route to. That is what host-mode
 * published ports need (the node's `shoal_ingress` table DNATs them to the container's address
 * here), and it gives the container egress through the node, masqueraded. The containers on it
 * are isolated from each other (Docker's `enable_icc=false`), so it never joins what overlay
 * networks keep apart.
 *
 * What the kernel holds is the truth, read back by a new instance (a restarted agent finds the
 * attachments with `list`), and a second `ensure` changes nothing. Every container of a node gets
 * an attachment, so attaching is kept cheap: the instance remembers the attachments it read or
 * made, picks a free address from that memory one call at a time, and makes the pair in two `ip`
 * runs while other attaches make theirs (`createAttachment`). When that fails (a half-made attach
 * in the way, anything the memory did not know), it forgets, waits for the attaches under way, and
 * attaches from what the kernel holds (`attachGateway`), replacing what is in the way.
 */
import { parseAddress } from '../../common/ipv4.js';
import { checkNetns, deleteLinks } from '../overlay/iproute.js';
import { KeyedQueue } from '../overlay/keyed-queue.js';
import { checkIfname } from '../overlay/names.js';
import { attachGateway, createAttachment, ensureGateway, listGateway, removeGateway, type Attachment, type GatewaySpec } from './bridge.js';
import { attachmentAlias, checkBridgeName, checkKey, gatewaySubnet, lowestFree, vethName, type AttachmentKey } from './names.js';

export type { Attachment, AttachmentKey };

export const DEFAULT_BRIDGE = 'shoal_gw';
/** A private /16 like docker_gwbridge's (172.18.0.0/16 by default), clear of the pools Docker hands out first. */
export const DEFAULT_SUBNET = '172.30.0.0/16';

export interface GatewayBridgeOptions {
  /** The node's namespace, holding its addresses: a name or a path; this process's own when absent. */
  nodeNetns?: string;
  /** The bridge's name in it; DEFAULT_BRIDGE when absent. */
  bridge?: string;
  /** The bridge's subnet, at least a /29, unused elsewhere on the node; DEFAULT_SUBNET when absent. */
  subnet?: string;
}

export class GatewayBridge {
  /** The bridge's address, the containers' default gateway. */
  readonly gateway: string;
  readonly prefixLength: number;
  private readonly spec: GatewaySpec;
  private readonly queue = new KeyedQueue();
  /** The attachments by key, as read from the kernel and made since; undefined until read, or after a failure. */
  private known: Map<string, Attachment> | undefined;
  /** Pairs being made outside the queue. */
  private readonly underWay = new Set<Promise<unknown>>();

  constructor(options: GatewayBridgeOptions = {}) {
    if (options.nodeNetns !== undefined) checkNetns(options.nodeNetns, 'node namespace');
    const bridge = options.bridge ?? DEFAULT_BRIDGE;
    checkBridgeName(bridge);
    const { subnet, gateway } = gatewaySubnet(options.subnet ?? DEFAULT_SUBNET);
    this.spec = { nodeNetns: options.nodeNetns, nodeNetnsRef: netnsRef(options.nodeNetns), bridge, subnet, gateway };
    this.gateway = gateway;
    this.prefixLength = subnet.prefixLength;
  }

  get bridge(): string {
    return this.spec.bridge;
  }

  /** Creates the bridge, its table and forwarding, or repairs them; a complete gateway is left unchanged. */
  async ensure(): Promise<void> {
    return this.run(async () => {
      this.known = undefined;
      await ensureGateway(this.spec);
    });
  }

  /**
   * Gives the container an interface on the bridge with the default route via the gateway, and
   * returns its address, bare (the prefix length is `prefixLength`). Attaching the same key to the
   * same interface again returns the same address. Needs `ensure` first.
   */
  async attach(attachment: AttachmentKey): Promise<string> {
    checkKey(attachment.key);
    checkIfname(attachment.ifname);
    checkNetns(attachment.containerNetns, 'container namespace');
    attachmentAlias(attachment);
    const claim = await this.run(async () => {
      const known = await this.load();
      const held = known.get(attachment.key);
      if (held?.containerNetns === attachment.containerNetns && held.ifname === attachment.ifname) return { address: held.address, existing: true };
      // The key on another interface, or a subnet with no room: the kernel's view decides below.
      if (held !== undefined) return undefined;
      const address = lowestFree(this.spec.subnet, new Set([...known.values()].map((a) => a.address)));
      if (address === undefined) return undefined;
      known.set(attachment.key, { ...attachment, address });
      return { address, existing: false };
    });
    if (claim?.existing) return claim.address;
    if (claim !== undefined) {
      const making = createAttachment(this.spec, attachment, claim.address);
      this.underWay.add(making);
      try {
        await making;
        return claim.address;
      } catch {
        // Something the memory did not know is in the way: attach from the kernel's view below.
      } finally {
        this.underWay.delete(making);
      }
    }
    return this.run(async () => {
      this.known = undefined;
      await Promise.allSettled([...this.underWay]);
      return attachGateway(this.spec, attachment);
    });
  }

  /** Removes the key's interface, if it is there. */
  async detach(key: string): Promise<void> {
    checkKey(key);
    return this.run(async () => {
      const known = await this.load();
      const held = known.get(key);
      if (held === undefined) return;
      known.delete(key);
      try {
        await deleteLinks(this.spec.nodeNetns, [vethName(held.address)]);
      } catch (err) {
        this.known = undefined;
        throw err;
      }
    });
  }

  /** The attachments on this node, in address order: as read from the kernel by this instance, and made since. */
  async list(): Promise<Attachment[]> {
    return this.run(async () => sortByAddress([...(await this.load()).values()]));
  }

  /** Removes the table, every attachment and the bridge (the node leaves); forwarding stays as it is. */
  async remove(): Promise<void> {
    return this.run(async () => {
      this.known = undefined;
      await Promise.allSettled([...this.underWay]);
      await removeGateway(this.spec);
    });
  }

  private async load(): Promise<Map<string, Attachment>> {
    this.known ??= new Map((await listGateway(this.spec)).map((a) => [a.key, a]));
    return this.known;
  }

  private run<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(this.spec.bridge, job);
  }
}

/** `ip link add ... netns X` takes a name under /run/netns or a pid; a process's own namespace is its pid's. */
function netnsRef(nodeNetns: string | undefined): string {
  if (nodeNetns === undefined) return String(process.pid);
  if (!nodeNetns.includes('/')) return nodeNetns;
  const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(nodeNetns)?.[1];
  if (pid === undefined) throw new Error(`invalid node namespace "${nodeNetns}": a name under /run/netns or /proc/PID/ns/net`);
  return pid;
}

function sortByAddress(attachments: Attachment[]): Attachment[] {
  return attachments.sort((a, b) => parseAddress(a.address) - parseAddress(b.address));
}
