/**
 * The node's identity: the certificate saved in its state directory, or, on a node's first start,
 * one obtained by joining the cluster with a worker join token (src/manager/ca/node-credentials.ts).
 * The certificate names the node; the agent has no other source of its id.
 */
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { joinCluster, loadNodeCredentials, NodeCredentialsError, type NodeCredentials } from '../manager/ca/node-credentials.js';
import { JoinTokenError } from '../manager/ca/tokens.js';
import type { Logger } from '../common/logger.js';

export class JoinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinError';
  }
}

export interface NodeCredentialsOptions {
  stateDir: string;
  /** Managers to join through, tried in turn. */
  managers: string[];
  joinToken?: string;
  logger: Logger;
  /** Per manager. Default: joinCluster's (20 s). */
  deadlineMs?: number;
}

/** The saved credentials, or new ones from joining with the token (saved then); throws JoinError. */
export async function obtainNodeCredentials(opts: NodeCredentialsOptions): Promise<NodeCredentials> {
  const saved = loadNodeCredentials(opts.stateDir);
  if (saved) {
    if (opts.joinToken) opts.logger.debug({ nodeId: saved.nodeId }, 'agent: already joined; the join token is not needed and was ignored');
    return saved;
  }
  if (!opts.joinToken) {
    throw new JoinError(
      `${opts.stateDir} holds no node certificate: this node has not joined a cluster yet; ` +
        "pass --token with the worker join token (run 'shoal cluster join-token worker' on a manager)",
    );
  }
  const failures: string[] = [];
  for (const address of opts.managers) {
    try {
      const creds = await joinCluster({ address, token: opts.joinToken, requestedRole: 'worker', nodeKeyDir: opts.stateDir, deadlineMs: opts.deadlineMs });
      opts.logger.info({ nodeId: creds.nodeId, manager: address }, 'agent: joined the cluster');
      return creds;
    } catch (err) {
      // A refusal or a mismatched CA is the same answer from every manager of the cluster; only
      // a manager that cannot be reached is a reason to ask the next.
      if (!isUnreachable(err)) throw new JoinError(`could not join the cluster through ${address}: ${describe(err)}`);
      failures.push(`${address}: ${describe(err)}`);
    }
  }
  throw new JoinError(`could not join the cluster: no manager answered (${failures.join('; ')})`);
}

function isUnreachable(err: unknown): boolean {
  if (err instanceof NodeCredentialsError || err instanceof JoinTokenError) return false;
  const code = (err as Partial<ServiceError>).code;
  return code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED;
}

function describe(err: unknown): string {
  if (err instanceof NodeCredentialsError || err instanceof JoinTokenError) return err.message;
  const e = err as Partial<ServiceError>;
  if (e.code === grpcStatus.PERMISSION_DENIED || e.code === grpcStatus.INVALID_ARGUMENT || e.code === grpcStatus.UNAUTHENTICATED) {
    return `the manager refused the join token: ${e.details ?? e.message}`;
  }
  return e.details || (err instanceof Error ? err.message : String(err));
}
