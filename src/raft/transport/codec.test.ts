import { describe, expect, it } from 'vitest';
import * as pb from '../../../proto/gen/raft.js';
import { EntryType, type InstallSnapshotRequest, type Message } from '../types.js';
import { MalformedMessageError, messageFromProto, messageToProto } from './codec.js';
import { SnapshotAssembler, snapshotChunks } from './snapshot-chunks.js';
import { fingerprint, sampleMessages, snapshotMessage } from './test-messages.js';

/** Encodes to bytes and back, as the wire does. */
function overTheWire(msg: Message): Message {
  const bytes = pb.RaftMessage.encode(messageToProto(msg)).finish();
  return messageFromProto(pb.RaftMessage.decode(bytes));
}

/** `msg` as the Stream carries it: an InstallSnapshot's data travels separately. */
function withoutData(msg: Message): Message {
  if (msg.type !== 'InstallSnapshot') return msg;
  const copy = { ...msg };
  delete copy.data;
  return copy;
}

function reassemble(msg: InstallSnapshotRequest, chunkBytes?: number): InstallSnapshotRequest {
  const assembler = new SnapshotAssembler();
  for (const chunk of snapshotChunks(msg, chunkBytes)) {
    assembler.push(pb.SnapshotChunk.decode(pb.SnapshotChunk.encode(chunk).finish()));
  }
  return assembler.finish();
}

describe('codec', () => {
  it.each(sampleMessages().map((m) => [m.type, m] as const))('round-trips %s', (_type, msg) => {
    expect(fingerprint(overTheWire(msg))).toEqual(fingerprint(withoutData(msg)));
  });

  it('round-trips every entry type, empty data and a large entry', () => {
    const large = snapshotMessage(3 * 1024 * 1024).data ?? new Uint8Array(0);
    const msg: Message = {
      type: 'AppendEntries',
      from: 'a',
      to: 'b',
      term: Number.MAX_SAFE_INTEGER,
      prevLogIndex: 2 ** 40,
      prevLogTerm: 7,
      entries: [
        { index: 2 ** 40 + 1, term: 8, type: EntryType.Noop, data: new Uint8Array(0) },
        { index: 2 ** 40 + 2, term: 8, type: EntryType.Configuration, data: new Uint8Array([1, 2, 3]) },
        { index: 2 ** 40 + 3, term: 8, type: EntryType.Command, data: large },
      ],
      leaderCommit: 2 ** 40,
      readCtx: 0,
    };
    expect(fingerprint(overTheWire(msg))).toEqual(fingerprint(msg));
  });

  it('round-trips a snapshot of several chunks, with the configuration', () => {
    const msg = snapshotMessage(5 * 1024 * 1024 + 17);
    const chunks = [...snapshotChunks(msg, 1024 * 1024)];
    expect(chunks).toHaveLength(1 + 6);
    expect(fingerprint(reassemble(msg, 1024 * 1024))).toEqual(fingerprint(msg));
  });

  it('round-trips a snapshot without data as an empty one', () => {
    const msg = snapshotMessage(0);
    expect(fingerprint(reassemble(msg))).toEqual(fingerprint(msg));
    const noData = withoutData(msg) as InstallSnapshotRequest;
    expect(fingerprint(reassemble(noData))).toEqual(fingerprint({ ...noData, data: new Uint8Array(0) }));
  });

  it('rejects a message without a body', () => {
    expect(() => messageFromProto({ from: 'a', to: 'b', term: 1 })).toThrow(MalformedMessageError);
  });

  it('rejects an unknown entry type', () => {
    const wire = messageToProto(sampleMessages()[0]);
    if (wire.body?.$case !== 'appendEntries') throw new Error('expected AppendEntries first');
    wire.body.appendEntries.entries[0].type = 9 as pb.EntryType;
    const decoded = pb.RaftMessage.decode(pb.RaftMessage.encode(wire).finish());
    expect(() => messageFromProto(decoded)).toThrow(MalformedMessageError);
  });

  it('rejects snapshot chunks out of order, too many bytes, or too few', () => {
    const msg = snapshotMessage(10);
    const [header, data] = [...snapshotChunks(msg, 10)];

    expect(() => new SnapshotAssembler().push(data)).toThrow(/before the header/);

    const twoHeaders = new SnapshotAssembler();
    twoHeaders.push(header);
    expect(() => twoHeaders.push(header)).toThrow(/second snapshot header/);

    const tooMuch = new SnapshotAssembler();
    tooMuch.push(header);
    tooMuch.push(data);
    expect(() => tooMuch.push(data)).toThrow(/exceeds/);

    const truncated = new SnapshotAssembler();
    truncated.push(header);
    expect(() => truncated.finish()).toThrow(/truncated/);

    expect(() => new SnapshotAssembler().finish()).toThrow(/without a header/);
  });

  it('rejects a snapshot header carrying another message type', () => {
    const assembler = new SnapshotAssembler();
    const other = messageToProto(sampleMessages()[1]);
    expect(() => assembler.push({ part: { $case: 'header', header: { message: other, size: 0 } } })).toThrow(
      /carries AppendEntriesResponse/,
    );
  });
});
