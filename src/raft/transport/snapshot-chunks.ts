/**
 * Splits an InstallSnapshot message into the chunks of the InstallSnapshot rpc (a header, then the
 * data in order) and reassembles them on the receiving side, so no single gRPC message has to hold
 * a whole snapshot.
 */
import type * as pb from '../../../proto/gen/raft.js';
import type { InstallSnapshotRequest } from '../types.js';
import { MalformedMessageError, asBuffer, messageFromProto, messageToProto } from './codec.js';

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** The header chunk, then `msg.data` in slices of at most `chunkBytes` (views, not copies). */
export function* snapshotChunks(
  msg: InstallSnapshotRequest,
  chunkBytes = DEFAULT_SNAPSHOT_CHUNK_BYTES,
): Generator<pb.SnapshotChunk> {
  if (!(chunkBytes > 0)) throw new RangeError(`chunkBytes must be positive, got ${chunkBytes}`);
  const data = msg.data ?? new Uint8Array(0);
  yield { part: { $case: 'header', header: { message: messageToProto(msg), size: data.byteLength } } };
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    yield { part: { $case: 'data', data: asBuffer(data.subarray(offset, offset + chunkBytes)) } };
  }
}

/** Rebuilds one InstallSnapshot message from the chunks of one rpc. Throws MalformedMessageError. */
export class SnapshotAssembler {
  private message: InstallSnapshotRequest | undefined;
  private data = new Uint8Array(0);
  private received = 0;

  push(chunk: pb.SnapshotChunk): void {
    const part = chunk.part;
    if (part === undefined) throw new MalformedMessageError('empty snapshot chunk');
    if (part.$case === 'header') {
      if (this.message !== undefined) throw new MalformedMessageError('second snapshot header');
      const wire = part.header.message;
      if (wire === undefined) throw new MalformedMessageError('snapshot header without a message');
      const msg = messageFromProto(wire);
      if (msg.type !== 'InstallSnapshot') throw new MalformedMessageError(`snapshot header carries ${msg.type}`);
      this.message = msg;
      // One allocation of the announced size: the chunks are copied straight into place.
      this.data = new Uint8Array(part.header.size);
      return;
    }
    if (this.message === undefined) throw new MalformedMessageError('snapshot data before the header');
    if (this.received + part.data.byteLength > this.data.byteLength) {
      throw new MalformedMessageError(`snapshot data exceeds the announced ${this.data.byteLength} bytes`);
    }
    this.data.set(part.data, this.received);
    this.received += part.data.byteLength;
  }

  /** The complete message, once the sender has ended the rpc. */
  finish(): InstallSnapshotRequest {
    if (this.message === undefined) throw new MalformedMessageError('snapshot stream without a header');
    if (this.received !== this.data.byteLength) {
      throw new MalformedMessageError(`snapshot truncated: ${this.received} of ${this.data.byteLength} bytes`);
    }
    return { ...this.message, data: this.data };
  }
}
