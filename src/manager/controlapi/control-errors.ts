/**
 * How the control API fails: every error leaves the manager as one gRPC status with a one-line
 * message the CLI prints as is.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { RaftError } from '../../raft/types.js';
import { NotLeaderError, StoreConflictError } from '../../store/types.js';
import { AllocationError } from '../allocator/allocation-error.js';
import { InvalidSpecError } from './invalid-spec-error.js';

/** A refusal the handlers decide themselves, with the gRPC code it travels as. */
export class ControlError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export const NO_LEADER_MESSAGE = 'no leader elected; try again';

export function noLeader(): ControlError {
  return new ControlError(status.UNAVAILABLE, NO_LEADER_MESSAGE);
}

export interface GrpcStatus {
  code: status;
  details: string;
}

/** The status an error becomes on the wire. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  if (err instanceof ControlError) return { code: err.code, details: err.message };
  if (err instanceof InvalidSpecError) return { code: status.INVALID_ARGUMENT, details: err.message };
  // A port or subnet someone else holds is refused like a bad spec, as docker does.
  if (err instanceof AllocationError) return { code: err.reason === 'conflict' ? status.INVALID_ARGUMENT : status.RESOURCE_EXHAUSTED, details: err.message };
  if (err instanceof StoreConflictError) return { code: status.ABORTED, details: `${err.message}; read it again and retry` };
  if (err instanceof NotLeaderError) {
    return { code: status.UNAVAILABLE, details: err.leader ? `leadership moved to ${err.leader.id}; try again` : NO_LEADER_MESSAGE };
  }
  if (err instanceof RaftError) return raftFailure(err);
  // A status the leader answered a forwarded call with passes through unchanged.
  if (isServiceError(err)) return { code: err.code, details: err.details };
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/**
 * UNAVAILABLE is kept for failures that guarantee the call was not carried out, so that callers
 * (the forwarding follower, the CLI) may retry it elsewhere; when a change may or may not have
 * been committed, the code says the outcome is unknown.
 */
function raftFailure(err: RaftError): GrpcStatus {
  switch (err.code) {
    case 'NotLeader':
      return { code: status.UNAVAILABLE, details: NO_LEADER_MESSAGE };
    case 'LeadershipLost':
      return {
        code: status.UNKNOWN,
        details: 'leadership was lost while the change was being committed; check whether it took effect before retrying',
      };
    case 'Timeout':
      return {
        code: status.DEADLINE_EXCEEDED,
        details: 'the change was not committed in time; check whether it took effect before retrying',
      };
    case 'Shutdown':
      return { code: status.UNKNOWN, details: 'the manager shut down before the change was confirmed; check whether it took effect before retrying' };
    default:
      return { code: status.INTERNAL, details: `raft: ${err.message}` };
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}
