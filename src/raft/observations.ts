/**
 * What a RaftNode lets others watch, as hashicorp/raft's observers do: leader changes (including to
 * no known leader) and changes of this server's role. Listeners run synchronously from the Ready
 * loop, so they must be quick; a throwing listener is logged and does not affect the node.
 */
import type { Logger } from '../common/logger.js';
import type { Role, ServerAddress, ServerId } from './types.js';

export type Observation =
  | { type: 'leader'; leader: { id: ServerId; address: ServerAddress } | undefined; term: number }
  | { type: 'role'; role: Role | 'shutdown'; term: number };

export type ObservationListener = (o: Observation) => void;

export class Observers {
  private readonly listeners = new Set<ObservationListener>();

  constructor(private readonly logger: Logger) {}

  /** Returns a function that removes the listener. */
  add(listener: ObservationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(o: Observation): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(o);
      } catch (err) {
        this.logger.warn({ err, observation: o.type }, 'raft observer threw');
      }
    }
  }
}
