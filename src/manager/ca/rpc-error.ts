/**
 * A refusal with the gRPC status it travels as. It has the shape of grpc-js's ServiceError (a
 * numeric `code` and `details`), so a handler may pass it to its callback as is, and the control
 * API's error mapping (controlapi/control-errors.ts) forwards it unchanged.
 */
import { status } from '@grpc/grpc-js';

export class RpcError extends Error {
  readonly details: string;

  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
    this.details = message;
  }
}

export const INVALID_JOIN_TOKEN = 'invalid join token';

export function permissionDenied(message: string): RpcError {
  return new RpcError(status.PERMISSION_DENIED, message);
}

export function unauthenticated(message: string): RpcError {
  return new RpcError(status.UNAUTHENTICATED, message);
}

export function invalidArgument(message: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, message);
}
