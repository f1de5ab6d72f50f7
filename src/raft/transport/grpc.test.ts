import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryType, type AppendEntriesRequest, type Message } from '../types.js';
import { GrpcTransport, type GrpcTransportOptions } from './grpc.js';
import { fingerprint, sampleMessages, snapshotMessage } from './test-messages.js';

/** Polls until `done()` holds; the generous limit only stops a broken test from hanging. */
async function waitFor(what: string, done: () => boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function appendEntries(from: string, to: string, seq: number, dataBytes = 0): AppendEntriesRequest {
  return {
    type: 'AppendEntries',
    from,
    to,
    term: 1,
    prevLogIndex: seq,
    prevLogTerm: 1,
    entries: [{ index: seq + 1, term: 1, type: EntryType.Command, data: new Uint8Array(dataBytes).fill(seq & 0xff) }],
    leaderCommit: seq,
    readCtx: 0,
  };
}

/** Counts handles by type (sockets, servers, timers), to show close() leaves none of its own behind. */
function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

interface Node {
  id: string;
  transport: GrpcTransport;
  inbox: Message[];
}

describe('GrpcTransport', () => {
  const open: GrpcTransport[] = [];

  async function startNode(id: string, options: Partial<GrpcTransportOptions> = {}): Promise<Node> {
    const transport = await GrpcTransport.listen({ address: '127.0.0.1:0', ...options });
    open.push(transport);
    const inbox: Message[] = [];
    transport.onMessage((m) => inbox.push(m));
    return { id, transport, inbox };
  }

  const target = (n: Node): { id: string; address: string } => ({ id: n.id, address: n.transport.localAddress });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('reports the port it bound', async () => {
    const a = await startNode('a');
    expect(a.transport.localAddress).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
  });

  it('refuses a port in use, and a snapshot chunk larger than the message limit', async () => {
    const a = await startNode('a');
    await expect(GrpcTransport.listen({ address: a.transport.localAddress })).rejects.toThrow();
    await expect(
      GrpcTransport.listen({ address: '127.0.0.1:0', maxMessageBytes: 1024, snapshotChunkBytes: 1024 }),
    ).rejects.toThrow(RangeError);
  });

  it('refuses callers its authorize hook turns away, streams and snapshots alike', async () => {
    const refused: string[] = [];
    const b = await startNode('b', {
      authorize: (call) => {
        refused.push(call.getPath());
        return 'not a manager';
      },
    });
    const a = await startNode('a');
    const stranger = await startNode('c');
    for (const m of sampleMessages('a', 'b')) a.transport.send(target(b), m);
    // The hook is asked for the stream and for the snapshot's call; nothing reaches the handler.
    await waitFor('both calls to be refused', () => refused.some((p) => p.endsWith('/Stream')) && refused.some((p) => p.endsWith('/InstallSnapshot')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.inbox).toEqual([]);
    // Without a refusal, the same messages arrive (the hook decides, not the messages).
    for (const m of sampleMessages('c', 'a')) stranger.transport.send(target(a), m);
    await waitFor('the admitted messages', () => a.inbox.length === sampleMessages().length);
  });

  it('carries every message type both ways between two servers', async () => {
    const [a, b] = [await startNode('a'), await startNode('b')];
    for (const m of sampleMessages('a', 'b')) a.transport.send(target(b), m);
    for (const m of sampleMessages('b', 'a')) b.transport.send(target(a), m);
    const all = sampleMessages().length;
    await waitFor('both inboxes', () => a.inbox.length === all && b.inbox.length === all);

    // The snapshot travels on its own call, so only the other messages keep their relative order.
    const byType = (inbox: Message[]): Message[] => [...inbox].sort((x, y) => x.type.localeCompare(y.type));
    expect(byType(b.inbox).map(fingerprint)).toEqual(byType(sampleMessages('a', 'b')).map(fingerprint));
    expect(byType(a.inbox).map(fingerprint)).toEqual(byType(sampleMessages('b', 'a')).map(fingerprint));
    const streamed = (inbox: Message[]): Message[] => inbox.filter((m) => m.type !== 'InstallSnapshot');
    expect(streamed(b.inbox)).toEqual(streamed(sampleMessages('a', 'b')));
  });

  it('connects three servers pairwise', async () => {
    const nodes = [await startNode('a'), await startNode('b'), await startNode('c')];
    for (const from of nodes) {
      for (const to of nodes) {
        if (from !== to) for (const m of sampleMessages(from.id, to.id)) from.transport.send(target(to), m);
      }
    }
    const perPeer = sampleMessages().length;
    await waitFor('every inbox', () => nodes.every((n) => n.inbox.length === 2 * perPeer));
    for (const n of nodes) {
      expect(n.inbox.every((m) => m.to === n.id)).toBe(true);
      for (const other of nodes.filter((o) => o !== n)) {
        const received = n.inbox.filter((m) => m.from === other.id).map((m) => m.type).sort();
        expect(received).toEqual(sampleMessages().map((m) => m.type).sort());
      }
    }
  });

  it('keeps the order of messages to one peer', async () => {
    const [a, b] = [await startNode('a'), await startNode('b')];
    const count = 3000;
    for (let seq = 0; seq < count; seq++) a.transport.send(target(b), appendEntries('a', 'b', seq, 1024));
    await waitFor('all messages', () => b.inbox.length === count);
    expect(b.inbox.map((m) => (m as AppendEntriesRequest).prevLogIndex)).toEqual([...Array(count).keys()]);
    expect(a.transport.peerStatus()).toEqual([
      { id: 'b', address: b.transport.localAddress, connected: true, queued: 0, dropped: 0 },
    ]);
  });

  it('delivers a 5 MiB snapshot intact, in chunks smaller than the message limit', async () => {
    const a = await startNode('a');
    const b = await startNode('b', { maxMessageBytes: 2 * 1024 * 1024 });
    const snapshot = snapshotMessage(5 * 1024 * 1024 + 3, 'a', 'b');
    a.transport.send(target(b), snapshot);
    await waitFor('the snapshot', () => b.inbox.length === 1);
    expect(fingerprint(b.inbox[0])).toEqual(fingerprint(snapshot));
  });

  it('sends only the newest of the snapshots queued behind one in flight', async () => {
    const [a, b] = [await startNode('a'), await startNode('b')];
    for (const index of [1, 2, 3]) {
      const snapshot = snapshotMessage(1024, 'a', 'b');
      a.transport.send(target(b), { ...snapshot, meta: { ...snapshot.meta, index } });
    }
    await waitFor('two snapshots', () => b.inbox.length === 2);
    expect(b.inbox.map((m) => (m.type === 'InstallSnapshot' ? m.meta.index : -1))).toEqual([1, 3]);
    expect(a.transport.peerStatus()[0].dropped).toBe(1);
  });

  it('follows a peer to its new address', async () => {
    const a = await startNode('a');
    const [b1, b2] = [await startNode('b'), await startNode('b')];
    a.transport.send(target(b1), appendEntries('a', 'b', 1));
    await waitFor('the message at the old address', () => b1.inbox.length === 1);
    a.transport.send(target(b2), appendEntries('a', 'b', 2));
    await waitFor('the message at the new address', () => b2.inbox.length === 1);
    expect(a.transport.peerStatus().map((p) => p.address)).toEqual([b2.transport.localAddress]);
  });

  it('reaches a peer again after it restarts on the same port', async () => {
    const a = await startNode('a');
    let b = await startNode('b');
    const address = b.transport.localAddress;
    a.transport.send(target(b), appendEntries('a', 'b', 1));
    await waitFor('the first message', () => b.inbox.length === 1);

    await b.transport.close();
    // Sent while b is down: lost or queued, but never an exception.
    for (let seq = 2; seq < 10; seq++) a.transport.send({ id: 'b', address }, appendEntries('a', 'b', seq));

    b = await startNode('b', { address });
    let seq = 10;
    await waitFor('a message after the restart', () => {
      a.transport.send({ id: 'b', address }, appendEntries('a', 'b', seq++));
      return b.inbox.length > 0;
    });
    const received = b.inbox.map((m) => (m as AppendEntriesRequest).prevLogIndex);
    expect(received).toEqual([...received].sort((x, y) => x - y));
    await waitFor('the link to report connected', () => a.transport.peerStatus()[0].connected);
  });

  it('reports a peer unreachable when its established connection breaks, and only then', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    const unreachable: string[] = [];
    a.transport.onPeerUnreachable((id) => unreachable.push(id));
    a.transport.send(target(b), appendEntries('a', 'b', 1));
    await waitFor('the first message', () => b.inbox.length === 1);
    await waitFor('the link to report connected', () => a.transport.peerStatus()[0].connected);
    expect(unreachable).toEqual([]);

    await b.transport.close(); // the peer's process goes away
    await waitFor('the break to be reported', () => unreachable.length > 0);
    expect(unreachable).toEqual(['b']);
  });

  it('neither throws nor grows without bound when the peer is dead', async () => {
    const a = await startNode('a', { maxQueuedMessages: 8 });
    const dead = await startNode('dead');
    const address = dead.transport.localAddress;
    await dead.transport.close();

    for (let seq = 0; seq < 500; seq++) a.transport.send({ id: 'dead', address }, appendEntries('a', 'dead', seq));
    a.transport.send({ id: 'dead', address }, snapshotMessage(1024, 'a', 'dead'));
    a.transport.send({ id: 'bogus', address: '' }, appendEntries('a', 'bogus', 0));
    a.transport.send({ id: 'bogus', address: 'no-such-host.invalid:1' }, appendEntries('a', 'bogus', 0));

    const deadStatus = () => a.transport.peerStatus().find((p) => p.id === 'dead');
    const status = deadStatus();
    expect(status?.connected).toBe(false);
    expect(status?.queued).toBeLessThanOrEqual(8);
    expect(status?.dropped).toBeGreaterThan(400);
    await waitFor('the failed snapshot to be counted', () => (deadStatus()?.dropped ?? 0) > (status?.dropped ?? 0));
  });

  it('keeps delivering after the handler throws', async () => {
    const [a, b] = [await startNode('a'), await startNode('b')];
    const seen: number[] = [];
    b.transport.onMessage((m) => {
      seen.push((m as AppendEntriesRequest).prevLogIndex);
      if (seen.length === 1) throw new Error('handler failure');
    });
    a.transport.send(target(b), appendEntries('a', 'b', 1));
    a.transport.send(target(b), appendEntries('a', 'b', 2));
    await waitFor('both messages', () => seen.length === 2);
    expect(seen).toEqual([1, 2]);
  });

  it('serves extra services on the Raft port', async () => {
    const identity = (b: Buffer): Buffer => b;
    const echo = {
      path: '/test.Echo/Echo',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    } as const;
    const echoImplementation: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) =>
      callback(null, Buffer.concat([Buffer.from('echo:'), call.request]));
    const [a, b] = [
      await startNode('a', { services: [{ definition: { echo }, implementation: { echo: echoImplementation } }] }),
      await startNode('b'),
    ];

    const client = new grpc.Client(a.transport.localAddress, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(echo.path, identity, identity, Buffer.from('hi'), (err, value) =>
          err || !value ? reject(err ?? new Error('no reply')) : resolve(value),
        ),
      );
      expect(reply.toString()).toBe('echo:hi');
    } finally {
      client.close();
    }
    // Raft traffic still arrives on the same port.
    b.transport.send(target(a), appendEntries('b', 'a', 1));
    await waitFor('the Raft message', () => a.inbox.length === 1);
  });

  it('ignores sends after close and leaves no sockets, servers or timers behind', async () => {
    // b stays up: had a kept a connection to it open, b's end of that connection would remain too.
    const b = await startNode('b');
    const dead = await startNode('dead');
    await dead.transport.close();
    const before = activeHandles();

    const a = await startNode('a');
    a.transport.send(target(b), appendEntries('a', 'b', 1));
    b.transport.send(target(a), appendEntries('b', 'a', 1));
    a.transport.send(target(dead), appendEntries('a', 'dead', 1));
    await waitFor('traffic both ways', () => a.inbox.length === 1 && b.inbox.length === 1);
    // Closing in the middle of a snapshot transfer must cancel it too.
    a.transport.send(target(b), snapshotMessage(8 * 1024 * 1024, 'a', 'b'));
    await a.transport.close();
    a.transport.send(target(b), appendEntries('a', 'b', 2));

    await waitFor('every handle to be released', () => {
      const after = activeHandles();
      return [...after].every(([kind, n]) => n <= (before.get(kind) ?? 0));
    });
    expect(b.inbox.filter((m) => m.type === 'AppendEntries')).toHaveLength(1);
  });
});
