import type { MessageHandler, Transport } from '../transport/types.js';
import type { Message, ServerAddress, ServerId } from '../types.js';

/** One incarnation's endpoint on the simulated network. */
export class SimTransport implements Transport {
  private handler: MessageHandler | undefined;
  private unreachableHandler: ((id: ServerId) => void) | undefined;
  private closed = false;

  constructor(
    readonly localAddress: ServerAddress,
    private readonly sendOut: (to: ServerId, msg: Message) => void,
  ) {}

  send(to: { id: ServerId; address: ServerAddress }, msg: Message): void {
    if (!this.closed) this.sendOut(to.id, msg);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onPeerUnreachable(handler: (id: ServerId) => void): void {
    this.unreachableHandler = handler;
  }

  /** Tells the node its connection to `id` broke, as a real transport does when a peer's process dies. */
  reportUnreachable(id: ServerId): void {
    if (!this.closed) this.unreachableHandler?.(id);
  }

  /** Hands an arrived message to the node, with its sender's address as a real transport reports it. */
  deliver(msg: Message): void {
    if (!this.closed) this.handler?.(msg, simAddress(msg.from));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function simAddress(id: ServerId): ServerAddress {
  return `sim://${id}`;
}
