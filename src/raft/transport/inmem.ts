/**
 * A fake network for unit tests: transports in one process exchange messages through an
 * InmemNetwork that tests can cut into partitions. Delivery is always deferred (never inside
 * send()), so a server never re-enters itself through a peer, and per-link order is kept.
 */
import type { Message, ServerAddress, ServerId } from '../types.js';
import type { MessageHandler, Transport } from './types.js';

export type Defer = (fn: () => void) => void;

export class InmemNetwork {
  private readonly endpoints = new Map<ServerAddress, InmemTransport>();
  /** Directed links that are down, as `${from}\n${to}` address pairs. */
  private readonly cutLinks = new Set<string>();
  /** Servers cut off from everyone. */
  private readonly isolated = new Set<ServerAddress>();

  /** `defer` schedules each delivery; FIFO scheduling (the default, setImmediate) keeps per-link order. */
  constructor(private readonly defer: Defer = setImmediate) {}

  /** A transport reachable at `address` until it is closed. */
  connect(address: ServerAddress): InmemTransport {
    if (this.endpoints.has(address)) throw new Error(`address ${address} is already in use`);
    const transport = new InmemTransport(address, this);
    this.endpoints.set(address, transport);
    return transport;
  }

  /** Cuts `address` off from every other server, in both directions, until reconnect(). */
  disconnect(address: ServerAddress): void {
    this.isolated.add(address);
  }

  reconnect(address: ServerAddress): void {
    this.isolated.delete(address);
  }

  /** Cuts every link between servers of different groups (adding to earlier cuts, until heal()).
   *  Servers in no group keep their links. */
  partition(...groups: ServerAddress[][]): void {
    for (const [i, group] of groups.entries()) {
      for (const [j, other] of groups.entries()) {
        if (i === j) continue;
        for (const a of group) for (const b of other) this.cutLinks.add(linkKey(a, b));
      }
    }
  }

  /** Drops messages from `from` to `to` (one direction only) until heal(). */
  cutLink(from: ServerAddress, to: ServerAddress): void {
    this.cutLinks.add(linkKey(from, to));
  }

  /** Restores every link and reconnects every server. */
  heal(): void {
    this.cutLinks.clear();
    this.isolated.clear();
  }

  canReach(from: ServerAddress, to: ServerAddress): boolean {
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.cutLinks.has(linkKey(from, to));
  }

  /** @internal Called by InmemTransport.send. */
  route(from: ServerAddress, to: ServerAddress, msg: Message): void {
    if (!this.canReach(from, to)) return;
    // A copy, as a real network makes: neither side may observe the other mutating the message.
    const copy = structuredClone(msg);
    this.defer(() => {
      // Checked again on arrival: a partition made while the message was in flight loses it.
      if (this.canReach(from, to)) this.endpoints.get(to)?.deliver(copy, from);
    });
  }

  /** @internal Called by InmemTransport.close. */
  detach(transport: InmemTransport): void {
    if (this.endpoints.get(transport.localAddress) === transport) this.endpoints.delete(transport.localAddress);
  }
}

export class InmemTransport implements Transport {
  private handler: MessageHandler | undefined;
  private closed = false;

  constructor(
    readonly localAddress: ServerAddress,
    private readonly network: InmemNetwork,
  ) {}

  send(to: { id: ServerId; address: ServerAddress }, msg: Message): void {
    if (!this.closed) this.network.route(this.localAddress, to.address, msg);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** @internal Called by InmemNetwork. */
  deliver(msg: Message, fromAddress: ServerAddress): void {
    if (!this.closed) this.handler?.(msg, fromAddress);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.detach(this);
  }
}

function linkKey(from: ServerAddress, to: ServerAddress): string {
  return `${from}\n${to}`;
}
