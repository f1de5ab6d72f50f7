import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { RaftError } from '../../raft/types.js';
import { NotLeaderError, StoreConflictError } from '../../store/types.js';
import { ControlError, toGrpcStatus } from './control-errors.js';
import { InvalidSpecError } from './invalid-spec-error.js';

describe('toGrpcStatus', () => {
  it('maps each kind of failure to its code with one line', () => {
    expect(toGrpcStatus(new ControlError(status.NOT_FOUND, 'service x not found'))).toEqual({ code: status.NOT_FOUND, details: 'service x not found' });
    expect(toGrpcStatus(new InvalidSpecError('mode', 'required'))).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid spec: mode: required' });
    expect(toGrpcStatus(new StoreConflictError('service abc changed (version 7)'))).toEqual({
      code: status.ABORTED,
      details: 'service abc changed (version 7); read it again and retry',
    });
    expect(toGrpcStatus(new NotLeaderError('not leader'))).toEqual({ code: status.UNAVAILABLE, details: 'no leader elected; try again' });
    expect(toGrpcStatus(new NotLeaderError('not leader', { id: 'm2', address: 'a' }))).toEqual({
      code: status.UNAVAILABLE,
      details: 'leadership moved to m2; try again',
    });
    expect(toGrpcStatus(new Error('boom'))).toEqual({ code: status.INTERNAL, details: 'boom' });
  });

  it('keeps UNAVAILABLE for calls surely not carried out, and says when the outcome is unknown', () => {
    expect(toGrpcStatus(new RaftError('NotLeader', 'x')).code).toBe(status.UNAVAILABLE);
    expect(toGrpcStatus(new RaftError('LeadershipLost', 'x'))).toEqual({
      code: status.UNKNOWN,
      details: 'leadership was lost while the change was being committed; check whether it took effect before retrying',
    });
    expect(toGrpcStatus(new RaftError('Timeout', 'x')).code).toBe(status.DEADLINE_EXCEEDED);
    expect(toGrpcStatus(new RaftError('Shutdown', 'x')).code).toBe(status.UNKNOWN);
  });

  it('passes a status from the leader through unchanged', () => {
    const fromLeader: ServiceError = Object.assign(new Error('5 NOT_FOUND: service y not found'), {
      code: status.NOT_FOUND,
      details: 'service y not found',
      metadata: new Metadata(),
    });
    expect(toGrpcStatus(fromLeader)).toEqual({ code: status.NOT_FOUND, details: 'service y not found' });
  });
});
