/**
 * The node's gateway bridge, Docker's docker_gwbridge: one bridge per node, in the node's own
 * namespace, giving a container an address the node can route to. That is what host-mode
 * published ports need (the node's `shoal_ingress` table DNATs them to the container's address
 * here), and it gives the container egress through the node, masqueraded. The containers on it
 * are isolated from each other (Docker's `enable_icc=false`), so it never joins what overlay
 * networks keep apart.
 *
 * Every call reads the kernel and changes only what differs; the instance holds no state, so a
 * restarted agent finds the attachments (`list`) and a second `ensure` changes nothing. Calls run
 * one at a time in call order: an address is picked from what the kernel holds, and two attaches
 * must not both pick the same one.
 */
import { checkNetns } from '../overlay/iproute.js';
import { KeyedQueue } from '../overlay/keyed-queue.js';
import { checkIfname } from '../overlay/names.js';
import { attachGateway, detachGateway, ensureGateway, listGateway, removeGateway, type Attachment, type GatewaySpec } from './bridge.js';
import { attachmentAlias, checkBridgeName, checkKey, gatewaySubnet, type AttachmentKey } from './names.js';

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

  constructor(options: GatewayBridgeOptions = {}) {
    if (options.nodeNetns !== undefined) checkNetns(options.nodeNetns, 'node namespace');
    const bridge = options.bridge ?? DEFAULT_BRIDGE;
    checkBridgeName(bridge);
    const { subnet, gateway } = gatewaySubnet(options.subnet ?? DEFAULT_SUBNET);
    this.spec = { nodeNetns: options.nodeNetns, bridge, subnet, gateway };
    this.gateway = gateway;
    this.prefixLength = subnet.prefixLength;
  }

  get bridge(): string {
    return this.spec.bridge;
  }

  /** Creates the bridge, its table and forwarding, or repairs them; a complete gateway is left unchanged. */
  async ensure(): Promise<void> {
    return this.run(() => ensureGateway(this.spec));
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
    return this.run(() => attachGateway(this.spec, attachment));
  }

  /** Removes the key's interface, if it is there. */
  async detach(key: string): Promise<void> {
    checkKey(key);
    return this.run(() => detachGateway(this.spec, key));
  }

  /** The attachments on this node, read from the kernel, in address order. */
  async list(): Promise<Attachment[]> {
    return this.run(() => listGateway(this.spec));
  }

  /** Removes the table, every attachment and the bridge (the node leaves); forwarding stays as it is. */
  async remove(): Promise<void> {
    return this.run(() => removeGateway(this.spec));
  }

  private run<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(this.spec.bridge, job);
  }
}
