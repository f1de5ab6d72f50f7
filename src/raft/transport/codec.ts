/**
 * Converts Raft messages (src/raft/types.ts) to and from their wire form (proto/raft.proto). An
 * InstallSnapshot message travels without its data here: snapshot-chunks.ts streams the bytes.
 */
import * as pb from '../../../proto/gen/raft.js';
import {
  EntryType,
  type Configuration,
  type Entry,
  type Message,
  type SnapshotMeta,
  type Suffrage,
} from '../types.js';

/** A message the peer sent that this server cannot make sense of. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/** The wire form of `msg`; an InstallSnapshot's data is left out. */
export function messageToProto(msg: Message): pb.RaftMessage {
  const head = { from: msg.from, to: msg.to, term: msg.term };
  switch (msg.type) {
    case 'AppendEntries':
      return {
        ...head,
        body: {
          $case: 'appendEntries',
          appendEntries: {
            prevLogIndex: msg.prevLogIndex,
            prevLogTerm: msg.prevLogTerm,
            entries: msg.entries.map(entryToProto),
            leaderCommit: msg.leaderCommit,
            readCtx: msg.readCtx,
          },
        },
      };
    case 'AppendEntriesResponse':
      return {
        ...head,
        body: {
          $case: 'appendEntriesResponse',
          appendEntriesResponse: {
            success: msg.success,
            matchIndex: msg.matchIndex,
            rejectedIndex: msg.rejectedIndex,
            hintIndex: msg.hintIndex,
            hintTerm: msg.hintTerm,
            readCtx: msg.readCtx,
          },
        },
      };
    case 'RequestVote':
      return {
        ...head,
        body: {
          $case: 'requestVote',
          requestVote: {
            lastLogIndex: msg.lastLogIndex,
            lastLogTerm: msg.lastLogTerm,
            preVote: msg.preVote,
            leadershipTransfer: msg.leadershipTransfer,
          },
        },
      };
    case 'RequestVoteResponse':
      return {
        ...head,
        body: { $case: 'requestVoteResponse', requestVoteResponse: { granted: msg.granted, preVote: msg.preVote } },
      };
    case 'InstallSnapshot':
      return { ...head, body: { $case: 'installSnapshot', installSnapshot: { meta: snapshotMetaToProto(msg.meta) } } };
    case 'InstallSnapshotResponse':
      return {
        ...head,
        body: {
          $case: 'installSnapshotResponse',
          installSnapshotResponse: { success: msg.success, matchIndex: msg.matchIndex },
        },
      };
    case 'TimeoutNow':
      return { ...head, body: { $case: 'timeoutNow', timeoutNow: {} } };
  }
}

/** The message `wire` encodes; an InstallSnapshot comes back without data. Throws MalformedMessageError. */
export function messageFromProto(wire: pb.RaftMessage): Message {
  const head = { from: wire.from, to: wire.to, term: wire.term };
  const body = wire.body;
  if (body === undefined) throw new MalformedMessageError(`message from ${wire.from} has no body`);
  switch (body.$case) {
    case 'appendEntries': {
      const b = body.appendEntries;
      return {
        ...head,
        type: 'AppendEntries',
        prevLogIndex: b.prevLogIndex,
        prevLogTerm: b.prevLogTerm,
        entries: b.entries.map(entryFromProto),
        leaderCommit: b.leaderCommit,
        readCtx: b.readCtx,
      };
    }
    case 'appendEntriesResponse': {
      const b = body.appendEntriesResponse;
      return {
        ...head,
        type: 'AppendEntriesResponse',
        success: b.success,
        matchIndex: b.matchIndex,
        rejectedIndex: b.rejectedIndex,
        hintIndex: b.hintIndex,
        hintTerm: b.hintTerm,
        readCtx: b.readCtx,
      };
    }
    case 'requestVote': {
      const b = body.requestVote;
      return {
        ...head,
        type: 'RequestVote',
        lastLogIndex: b.lastLogIndex,
        lastLogTerm: b.lastLogTerm,
        preVote: b.preVote,
        leadershipTransfer: b.leadershipTransfer,
      };
    }
    case 'requestVoteResponse': {
      const b = body.requestVoteResponse;
      return { ...head, type: 'RequestVoteResponse', granted: b.granted, preVote: b.preVote };
    }
    case 'installSnapshot': {
      const meta = body.installSnapshot.meta;
      if (meta === undefined) throw new MalformedMessageError(`InstallSnapshot from ${wire.from} has no meta`);
      return { ...head, type: 'InstallSnapshot', meta: snapshotMetaFromProto(meta) };
    }
    case 'installSnapshotResponse': {
      const b = body.installSnapshotResponse;
      return { ...head, type: 'InstallSnapshotResponse', success: b.success, matchIndex: b.matchIndex };
    }
    case 'timeoutNow':
      return { ...head, type: 'TimeoutNow' };
  }
}

/** A Buffer sharing `bytes`' memory: the generated code types bytes fields as Buffer. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view of `buf` (no copy), so decoded messages carry the type they were sent with. */
export function asUint8Array(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function entryToProto(e: Entry): pb.Entry {
  return { index: e.index, term: e.term, type: entryTypeToProto(e.type), data: asBuffer(e.data) };
}

function entryFromProto(e: pb.Entry): Entry {
  return { index: e.index, term: e.term, type: entryTypeFromProto(e.type), data: asUint8Array(e.data) };
}

function entryTypeToProto(t: EntryType): pb.EntryType {
  switch (t) {
    case EntryType.Command:
      return pb.EntryType.ENTRY_TYPE_COMMAND;
    case EntryType.Noop:
      return pb.EntryType.ENTRY_TYPE_NOOP;
    case EntryType.Configuration:
      return pb.EntryType.ENTRY_TYPE_CONFIGURATION;
  }
}

function entryTypeFromProto(t: pb.EntryType): EntryType {
  switch (t) {
    case pb.EntryType.ENTRY_TYPE_COMMAND:
      return EntryType.Command;
    case pb.EntryType.ENTRY_TYPE_NOOP:
      return EntryType.Noop;
    case pb.EntryType.ENTRY_TYPE_CONFIGURATION:
      return EntryType.Configuration;
    default:
      throw new MalformedMessageError(`unknown entry type ${String(t)}`);
  }
}

function snapshotMetaToProto(m: SnapshotMeta): pb.SnapshotMeta {
  return {
    index: m.index,
    term: m.term,
    configuration: configurationToProto(m.configuration),
    configurationIndex: m.configurationIndex,
  };
}

function snapshotMetaFromProto(m: pb.SnapshotMeta): SnapshotMeta {
  return {
    index: m.index,
    term: m.term,
    // proto3 cannot tell an absent message from an empty one; an empty configuration is the same thing.
    configuration: configurationFromProto(m.configuration ?? { servers: [] }),
    configurationIndex: m.configurationIndex,
  };
}

function configurationToProto(c: Configuration): pb.Configuration {
  return {
    servers: c.servers.map((s) => ({ id: s.id, address: s.address, suffrage: suffrageToProto(s.suffrage) })),
  };
}

function configurationFromProto(c: pb.Configuration): Configuration {
  return {
    servers: c.servers.map((s) => ({ id: s.id, address: s.address, suffrage: suffrageFromProto(s.suffrage) })),
  };
}

function suffrageToProto(s: Suffrage): pb.Suffrage {
  return s === 'voter' ? pb.Suffrage.SUFFRAGE_VOTER : pb.Suffrage.SUFFRAGE_NONVOTER;
}

function suffrageFromProto(s: pb.Suffrage): Suffrage {
  switch (s) {
    case pb.Suffrage.SUFFRAGE_VOTER:
      return 'voter';
    case pb.Suffrage.SUFFRAGE_NONVOTER:
      return 'nonvoter';
    default:
      throw new MalformedMessageError(`unknown suffrage ${String(s)}`);
  }
}
