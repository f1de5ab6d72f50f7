import type { Message, ServerAddress, ServerId } from '../types.js';

/**
 * Receives one inbound message. `fromAddress` is where the sender says it is reached (as
 * hashicorp/raft's RPC header carries it): a server that has never seen a configuration naming the
 * sender, such as one being added to the cluster, learns from it where to send its replies.
 */
export type MessageHandler = (msg: Message, fromAddress?: ServerAddress) => void;

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
  onMessage(handler: MessageHandler): void;
  /**
   * Optional: installs a handler called when an established connection to a peer breaks (the peer's
   * process died or restarted). Raft uses it to notice a dead leader sooner than its election timeout.
   */
  onPeerUnreachable?(handler: (id: ServerId) => void): void;
  close(): Promise<void>;
}
