/** Fixtures for the transport tests: one message of every type, with non-default field values. */
import { createHash } from 'node:crypto';
import { EntryType, type InstallSnapshotRequest, type Message } from '../types.js';

export function sampleMessages(from = 'n1', to = 'n2'): Message[] {
  return [
    {
      type: 'AppendEntries',
      from,
      to,
      term: 3,
      prevLogIndex: 10,
      prevLogTerm: 2,
      entries: [
        { index: 11, term: 3, type: EntryType.Command, data: new TextEncoder().encode('set x=1') },
        { index: 12, term: 3, type: EntryType.Noop, data: new Uint8Array(0) },
      ],
      leaderCommit: 9,
      readCtx: 4,
    },
    {
      type: 'AppendEntriesResponse',
      from,
      to,
      term: 3,
      success: false,
      matchIndex: 0,
      rejectedIndex: 10,
      hintIndex: 8,
      hintTerm: 2,
      readCtx: 4,
    },
    { type: 'RequestVote', from, to, term: 4, lastLogIndex: 12, lastLogTerm: 3, preVote: true, leadershipTransfer: true },
    { type: 'RequestVoteResponse', from, to, term: 4, granted: true, preVote: true },
    snapshotMessage(3, from, to),
    { type: 'InstallSnapshotResponse', from, to, term: 5, success: true, matchIndex: 100 },
    { type: 'TimeoutNow', from, to, term: 5 },
  ];
}

/** An InstallSnapshot of `size` patterned bytes, with a configuration of every suffrage. */
export function snapshotMessage(size: number, from = 'n1', to = 'n2'): InstallSnapshotRequest {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >>> 10)) & 0xff;
  return {
    type: 'InstallSnapshot',
    from,
    to,
    term: 5,
    meta: {
      index: 100,
      term: 4,
      configuration: {
        servers: [
          { id: 'n1', address: '127.0.0.1:4401', suffrage: 'voter' },
          { id: 'n2', address: '127.0.0.1:4402', suffrage: 'voter' },
          { id: 'n3', address: '127.0.0.1:4403', suffrage: 'nonvoter' },
        ],
      },
      configurationIndex: 90,
    },
    data,
  };
}

/** `msg` with every byte array replaced by its length and digest, so large messages compare quickly. */
export function fingerprint(msg: Message): unknown {
  const digest = (bytes: Uint8Array): string =>
    `${bytes.constructor.name}(${bytes.byteLength}) ${createHash('sha256').update(bytes).digest('hex')}`;
  switch (msg.type) {
    case 'AppendEntries':
      return { ...msg, entries: msg.entries.map((e) => ({ ...e, data: digest(e.data) })) };
    case 'InstallSnapshot':
      return { ...msg, data: msg.data === undefined ? undefined : digest(msg.data) };
    default:
      return msg;
  }
}
