import type { Message, ServerAddress, ServerId } from '../types.js';

/**
 * Carries messages between servers. Delivery is best effort (a message may be lost), but messages
 * to one peer arrive in the order sent or not at all. An InstallSnapshot message carries its data,
 * which a network transport streams in chunks.
 */
export interface Transport {
  /** The address other servers reach this one at. */
  readonly localAddress: ServerAddress;
  send(to: { id: ServerId; address: ServerAddress }, msg: Message): void;
  /** Installs the single handler for inbound messages. */
  onMessage(handler: (msg: Message) => void): void;
  close(): Promise<void>;
}
