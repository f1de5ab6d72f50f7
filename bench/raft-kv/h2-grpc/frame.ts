/**
 * gRPC's wire format over HTTP/2, the little of it unary calls need: a message is one byte of
 * compression flag, four bytes of big-endian length and the protobuf bytes; the outcome travels in
 * the `grpc-status` and `grpc-message` trailers, the message percent-encoded.
 */
import { status } from '@grpc/grpc-js';

export const GRPC_CONTENT_TYPE = 'application/grpc';
/** gRPC's default limit on a received message, kept here so a bad peer cannot make us buffer more. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const PREFIX_BYTES = 5;

/** A failed call: the gRPC status code and its message. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(`${status[code] ?? code}: ${details}`);
    this.name = 'GrpcStatusError';
  }
}

export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, PREFIX_BYTES);
  return out;
}

/** The one message of a unary request or response body, or a GrpcStatusError saying what is wrong. */
export function unframeMessage(body: Buffer): Buffer {
  if (body.length < PREFIX_BYTES) throw new GrpcStatusError(status.INTERNAL, 'message shorter than its prefix');
  if (body[0] !== 0) throw new GrpcStatusError(status.UNIMPLEMENTED, 'compressed messages are not supported');
  const length = body.readUInt32BE(1);
  if (length > MAX_MESSAGE_BYTES) throw new GrpcStatusError(status.RESOURCE_EXHAUSTED, `message of ${length} bytes is over the limit`);
  if (body.length !== PREFIX_BYTES + length) throw new GrpcStatusError(status.INTERNAL, 'body is not exactly one message');
  return body.subarray(PREFIX_BYTES);
}

/** grpc-message is percent-encoded outside printable ASCII (and '%' itself). */
export function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** grpc-timeout ("100m", "10S", ...) in milliseconds, or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  const perUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
  return Number(match[1]) * perUnitMs[match[2]!]!;
}
