/**
 * The sending side of GrpcTransport towards one peer: a bounded queue drained into one long-lived
 * `Stream` call (reopened with jittered exponential back-off when it breaks), plus InstallSnapshot
 * calls that stream a snapshot in chunks, one at a time, beside the Stream.
 */
import * as grpc from '@grpc/grpc-js';
import { RaftTransportClient, type RaftMessage, type SnapshotChunk } from '../../../proto/gen/raft.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { Random } from '../../common/random.js';
import type { InstallSnapshotRequest, Message, ServerAddress, ServerId } from '../types.js';
import { BoundedQueue } from './bounded-queue.js';
import { messageToProto } from './codec.js';
import { snapshotChunks } from './snapshot-chunks.js';

export interface PeerLinkOptions {
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  clock: Clock;
  random: Random;
  logger: Logger;
  maxQueuedMessages: number;
  snapshotChunkBytes: number;
  reconnectBackoffMs: { initial: number; max: number };
  /** This transport's own address, announced to the peer on every call (SENDER_ADDRESS_METADATA). */
  localAddress: ServerAddress;
  /** Called when a stream the peer had accepted breaks. */
  onBroken: () => void;
}

/** Call metadata naming where the sender is reached, so a peer that does not know it yet can reply. */
export const SENDER_ADDRESS_METADATA = 'shoal-raft-sender-address';

export interface PeerStatus {
  id: ServerId;
  address: ServerAddress;
  /** The peer's server has accepted the current Stream call. */
  connected: boolean;
  queued: number;
  /** Messages this side gave up on (queue overflow, superseded or failed snapshots). Messages lost
   *  inside a call that broke are not counted: gRPC cannot tell how many reached the peer. */
  dropped: number;
}

type StreamState =
  | { kind: 'idle' }
  | { kind: 'backoff'; timer: TimerHandle }
  | { kind: 'open'; call: grpc.ClientWritableStream<RaftMessage>; accepted: boolean; draining: boolean };

export class PeerLink {
  private readonly client: RaftTransportClient;
  private readonly queue: BoundedQueue<Message>;
  private readonly log: Logger;
  private stream: StreamState = { kind: 'idle' };
  private failures = 0;
  private dropped = 0;
  private closed = false;
  /** The snapshot call in flight, and the newest snapshot waiting for it (older ones are superseded). */
  private snapshotCall: grpc.ClientWritableStream<SnapshotChunk> | undefined;
  private pendingSnapshot: InstallSnapshotRequest | undefined;
  private transferringSnapshots = false;

  /** Throws if `address` is not a valid gRPC target. */
  constructor(
    readonly id: ServerId,
    readonly address: ServerAddress,
    private readonly opts: PeerLinkOptions,
  ) {
    this.client = new RaftTransportClient(address, opts.credentials, opts.channelOptions);
    this.queue = new BoundedQueue(opts.maxQueuedMessages);
    this.log = opts.logger.child({ peer: id, peerAddress: address });
  }

  private senderMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(SENDER_ADDRESS_METADATA, this.opts.localAddress);
    return metadata;
  }

  send(msg: Message): void {
    if (this.closed) return;
    if (msg.type === 'InstallSnapshot') {
      this.sendSnapshot(msg);
      return;
    }
    if (this.queue.push(msg) !== undefined) this.countDropped('queue full');
    this.pump();
  }

  status(): PeerStatus {
    return {
      id: this.id,
      address: this.address,
      connected: this.stream.kind === 'open' && this.stream.accepted,
      queued: this.queue.length,
      dropped: this.dropped,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stream.kind === 'backoff') this.stream.timer.cancel();
    if (this.stream.kind === 'open') this.stream.call.cancel();
    this.stream = { kind: 'idle' };
    this.snapshotCall?.cancel();
    this.pendingSnapshot = undefined;
    this.queue.clear();
    this.client.close();
  }

  /** Writes queued messages until the call pushes back, opening a call first if there is none. */
  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    if (this.stream.kind === 'idle') this.openStream();
    const stream = this.stream;
    if (stream.kind !== 'open' || stream.draining) return;
    let msg: Message | undefined;
    while ((msg = this.queue.shift()) !== undefined) {
      if (!stream.call.write(messageToProto(msg))) {
        stream.draining = true;
        stream.call.once('drain', () => {
          if (this.stream !== stream) return;
          stream.draining = false;
          this.pump();
        });
        return;
      }
    }
  }

  private openStream(): void {
    let call: grpc.ClientWritableStream<RaftMessage>;
    try {
      call = this.client.stream(this.senderMetadata(), (err) => this.onStreamEnded(call, err));
    } catch (err) {
      // Only a closed channel throws here; treat it like a failed call.
      this.log.warn({ err }, 'raft transport: cannot open stream');
      this.scheduleReopen();
      return;
    }
    const state: StreamState = { kind: 'open', call, accepted: false, draining: false };
    this.stream = state;
    // gRPC reports failures through the callback; a stray stream 'error' must not become an uncaught one.
    call.on('error', (err) => this.log.debug({ err }, 'raft transport: stream error'));
    // The server sends its headers as soon as it accepts the call: from then on the link is healthy.
    call.on('metadata', () => {
      if (this.stream !== state) return;
      state.accepted = true;
      if (this.failures > 0) this.log.info('raft transport: stream to peer re-established');
      this.failures = 0;
    });
  }

  private onStreamEnded(call: grpc.ClientWritableStream<RaftMessage>, err: grpc.ServiceError | null): void {
    if (this.closed || this.stream.kind !== 'open' || this.stream.call !== call) return;
    const wasAccepted = this.stream.accepted;
    this.stream = { kind: 'idle' };
    const details = err ? { code: err.code, details: err.details } : { code: 0 };
    // The first failure of a working link is worth a warning; retries against a down peer are not.
    if (wasAccepted) this.log.warn(details, 'raft transport: stream to peer broke, reconnecting');
    else this.log.debug(details, 'raft transport: stream to peer failed');
    this.scheduleReopen();
    if (wasAccepted) this.opts.onBroken();
  }

  private scheduleReopen(): void {
    const { initial, max } = this.opts.reconnectBackoffMs;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Full jitter in the upper half, so peers that lost the same server do not reconnect in lockstep.
    const delay = ceiling / 2 + this.opts.random.next() * (ceiling / 2);
    const timer = this.opts.clock.setTimer(delay, () => {
      if (this.stream.kind !== 'backoff' || this.stream.timer !== timer) return;
      this.stream = { kind: 'idle' };
      this.pump();
    });
    this.stream = { kind: 'backoff', timer };
  }

  private sendSnapshot(msg: InstallSnapshotRequest): void {
    if (this.pendingSnapshot !== undefined) this.countDropped('snapshot superseded');
    this.pendingSnapshot = msg;
    if (!this.transferringSnapshots) void this.transferPendingSnapshots();
  }

  private async transferPendingSnapshots(): Promise<void> {
    this.transferringSnapshots = true;
    for (let msg = this.takePendingSnapshot(); msg !== undefined; msg = this.takePendingSnapshot()) {
      try {
        await this.transferSnapshot(msg);
        this.log.debug({ index: msg.meta.index, bytes: msg.data?.byteLength ?? 0 }, 'raft transport: snapshot sent');
      } catch (err) {
        if (this.closed) break;
        this.countDropped('snapshot transfer failed');
        this.log.warn({ err, index: msg.meta.index }, 'raft transport: snapshot transfer failed');
      }
    }
    this.transferringSnapshots = false;
  }

  private takePendingSnapshot(): InstallSnapshotRequest | undefined {
    const msg = this.closed ? undefined : this.pendingSnapshot;
    this.pendingSnapshot = undefined;
    return msg;
  }

  /** Resolves once the peer has received the whole snapshot; rejects if the call fails. */
  private async transferSnapshot(msg: InstallSnapshotRequest): Promise<void> {
    let settle: (err: grpc.ServiceError | null) => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    // Awaited below; this only keeps a failure that arrives while no one is waiting from being "unhandled".
    done.catch(() => {});
    let ended = false;
    const call = this.client.installSnapshot(this.senderMetadata(), (err) => {
      ended = true;
      settle(err);
    });
    this.snapshotCall = call;
    call.on('error', (err) => this.log.debug({ err }, 'raft transport: snapshot call error'));
    try {
      for (const chunk of snapshotChunks(msg, this.opts.snapshotChunkBytes)) {
        if (ended) break;
        if (!call.write(chunk)) await Promise.race([waitForDrain(call), done]);
      }
      if (!ended) call.end();
      await done;
    } finally {
      this.snapshotCall = undefined;
    }
  }

  private countDropped(reason: string): void {
    this.dropped++;
    this.log.debug({ reason, dropped: this.dropped }, 'raft transport: message dropped');
  }
}

function waitForDrain(call: grpc.ClientWritableStream<SnapshotChunk>): Promise<void> {
  return new Promise((resolve) => call.once('drain', resolve));
}
