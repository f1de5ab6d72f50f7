import type { Transport } from '../transport/types.js';
import type { Message, ServerAddress, ServerId } from '../types.js';

/** One incarnation's endpoint on the simulated network. */
export class SimTransport implements Transport {
  private handler: ((msg: Message) => void) | undefined;
  private closed = false;

  constructor(
    readonly localAddress: ServerAddress,
    private readonly sendOut: (to: ServerId, msg: Message) => void,
  ) {}

  send(to: { id: ServerId; address: ServerAddress }, msg: Message): void {
    if (!this.closed) this.sendOut(to.id, msg);
  }

  onMessage(handler: (msg: Message) => void): void {
    this.handler = handler;
  }

  /** Hands an arrived message to the node, if it is still listening. */
  deliver(msg: Message): void {
    if (!this.closed) this.handler?.(msg);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function simAddress(id: ServerId): ServerAddress {
  return `sim://${id}`;
}
