/**
 * The TLS a manager speaks on its one port, and who may call what there:
 * - the server presents this manager's certificate, asks every client for one, but admits a
 *   client without (a joining node's NodeCA calls); each service then checks its callers;
 * - Raft and Control on this port are for other managers only (people use the control socket);
 * - channels to other managers present this manager's certificate and accept only a manager's.
 * A renewed certificate replaces the server's and the channels' credentials (update).
 */
import type { ChannelCredentials, UntypedServiceImplementation } from '@grpc/grpc-js';
import { grpcChannelCredentials, grpcServerCredentials, MANAGER_CHANNEL_OPTIONS, requireRole, type AuthenticatedCall, type NodeCredentials, type NodeServerCredentials } from './ca/index.js';
import type { ManagerChannel } from './leader-forwarder.js';

export class ManagerTls {
  readonly server: NodeServerCredentials;
  private channelCredentials: ChannelCredentials;

  constructor(credentials: NodeCredentials) {
    this.server = grpcServerCredentials(credentials, { requireClientCert: false });
    this.channelCredentials = grpcChannelCredentials(credentials);
  }

  channel(): ManagerChannel {
    return { credentials: this.channelCredentials, options: MANAGER_CHANNEL_OPTIONS };
  }

  update(credentials: NodeCredentials): void {
    this.server.update(credentials);
    this.channelCredentials = grpcChannelCredentials(credentials);
  }
}

/** Why `call` may not use a managers-only service, or undefined if its caller is a manager. */
export function managerOnlyRefusal(call: AuthenticatedCall): string | undefined {
  try {
    requireRole(call, 'manager');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

type Refusal = { code: number; details: string };
/** A unary handler, or a server-streaming one (no callback: a refusal is the stream's error). */
type UnaryHandler = (call: AuthenticatedCall & { emit(event: 'error', err: Refusal): boolean }, callback?: (err: Refusal | null) => void) => void;

/**
 * `implementation` (unary and server-streaming methods, like Control's) with every call refused
 * unless its caller holds a manager certificate of this cluster.
 */
export function managersOnly<T extends object>(implementation: T): UntypedServiceImplementation {
  const guarded: Record<string, UnaryHandler> = {};
  for (const [name, handler] of Object.entries(implementation) as [string, UnaryHandler][]) {
    guarded[name] = (call, callback) => {
      try {
        requireRole(call, 'manager');
      } catch (err) {
        if (callback) callback(err as Refusal);
        else call.emit('error', err as Refusal);
        return;
      }
      handler(call, callback);
    };
  }
  return guarded as UntypedServiceImplementation;
}
