/**
 * The production Transport: a gRPC server that receives from every peer, and one PeerLink per
 * peer that sends to it (see grpc-peer.ts). Every message except InstallSnapshot rides one
 * long-lived client stream per peer, so AppendEntries are pipelined with no per-message call.
 *
 * An InstallSnapshot travels on its own call, so a large transfer never holds up heartbeats; it
 * may therefore arrive before or after messages sent around it. Raft tolerates that (each message
 * is judged by its term and indexes), and etcd's and hashicorp's transports do the same.
 */
import * as grpc from '@grpc/grpc-js';
import {
  RaftTransportService,
  type RaftMessage,
  type RaftTransportServer,
  type SnapshotChunk,
  type StreamAck,
} from '../../../proto/gen/raft.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { systemRandom, type Random } from '../../common/random.js';
import type { Message, ServerAddress, ServerId } from '../types.js';
import { messageFromProto } from './codec.js';
import { PeerLink, SENDER_ADDRESS_METADATA, type PeerStatus } from './grpc-peer.js';
import { DEFAULT_SNAPSHOT_CHUNK_BYTES, SnapshotAssembler } from './snapshot-chunks.js';
import type { MessageHandler, Transport } from './types.js';

export type { PeerStatus } from './grpc-peer.js';

export interface GrpcTransportOptions {
  /** host:port to listen on; port 0 picks a free port (localAddress then reports it). */
  address: string;
  /** The address peers reach this server at, if not the bound one (e.g. when binding 0.0.0.0). */
  advertiseAddress?: ServerAddress;
  /** Default: insecure. Pass TLS credentials for mTLS. */
  serverCredentials?: grpc.ServerCredentials;
  /** Default: insecure. Replaced later with setChannelCredentials (a renewed certificate). */
  channelCredentials?: grpc.ChannelCredentials;
  /** Extra options for the channels to peers (e.g. the TLS server name to verify). */
  channelOptions?: grpc.ChannelOptions;
  /**
   * Checks each inbound Raft call before anything it carries is read: undefined admits it, a
   * string refuses it PERMISSION_DENIED with that message (e.g. a caller without a manager's
   * certificate). Default: everyone is admitted.
   */
  authorize?: (call: grpc.ServerReadableStream<unknown, unknown>) => string | undefined;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Per-peer queue of messages waiting for the stream; on overflow the oldest is dropped. Default 4096. */
  maxQueuedMessages?: number;
  /** Default 1 MiB. */
  snapshotChunkBytes?: number;
  /** Largest single gRPC message either way (a batch of AppendEntries, a snapshot chunk). Default 64 MiB. */
  maxMessageBytes?: number;
  /** Back-off between attempts to reopen a broken stream (jittered, doubling). Default 50 ms to 2 s. */
  reconnectBackoffMs?: { initial: number; max: number };
  /** Interval of HTTP/2 pings that detect a dead connection without traffic errors. Default 10 s. */
  keepaliveMs?: number;
  /**
   * More gRPC services served on the same port, added before it binds. A shoal manager serves its
   * Control and Dispatcher services here, so one address per manager reaches all of them.
   */
  services?: GrpcServiceRegistration[];
}

export interface GrpcServiceRegistration {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

type TransportSettings = Required<Omit<GrpcTransportOptions, 'advertiseAddress' | 'services'>>;

const DEFAULT_MAX_QUEUED_MESSAGES = 4096;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_KEEPALIVE_MS = 10_000;
/** Room for a data chunk's protobuf framing (tag and length). */
const SNAPSHOT_CHUNK_OVERHEAD_BYTES = 16;

export class GrpcTransport implements Transport {
  private readonly peers = new Map<ServerId, PeerLink>();
  private readonly invalidTargets = new Set<ServerAddress>();
  private handler: MessageHandler | undefined;
  private unreachableHandler: ((id: ServerId) => void) | undefined;
  private closed = false;
  private boundAddress: ServerAddress = '';

  private constructor(
    private readonly server: grpc.Server,
    private readonly opts: TransportSettings,
  ) {
    server.addService(RaftTransportService, this.serviceImplementation());
  }

  get localAddress(): ServerAddress {
    return this.boundAddress;
  }

  /** Starts the server; resolves once it is bound. */
  static async listen(options: GrpcTransportOptions): Promise<GrpcTransport> {
    const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const snapshotChunkBytes = options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    if (snapshotChunkBytes + SNAPSHOT_CHUNK_OVERHEAD_BYTES > maxMessageBytes) {
      throw new RangeError(`snapshotChunkBytes ${snapshotChunkBytes} does not fit in maxMessageBytes ${maxMessageBytes}`);
    }
    const opts: TransportSettings = {
      address: options.address,
      serverCredentials: options.serverCredentials ?? grpc.ServerCredentials.createInsecure(),
      channelCredentials: options.channelCredentials ?? grpc.credentials.createInsecure(),
      channelOptions: options.channelOptions ?? {},
      authorize: options.authorize ?? (() => undefined),
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? systemClock,
      random: options.random ?? systemRandom,
      maxQueuedMessages: options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
      snapshotChunkBytes,
      maxMessageBytes,
      reconnectBackoffMs: options.reconnectBackoffMs ?? { initial: 50, max: 2000 },
      keepaliveMs,
    };
    const server = new grpc.Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      'grpc.keepalive_time_ms': keepaliveMs,
      'grpc.keepalive_timeout_ms': keepaliveMs / 2,
    });
    const transport = new GrpcTransport(server, opts);
    for (const service of options.services ?? []) server.addService(service.definition, service.implementation);
    try {
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(opts.address, opts.serverCredentials, (err, boundPort) =>
          err ? reject(err) : resolve(boundPort),
        ),
      );
      transport.boundAddress = options.advertiseAddress ?? withPort(opts.address, port);
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
    opts.logger.info({ address: transport.localAddress }, 'raft transport: listening');
    return transport;
  }

  send(to: { id: ServerId; address: ServerAddress }, msg: Message): void {
    if (this.closed) return;
    this.peerLink(to)?.send(msg);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onPeerUnreachable(handler: (id: ServerId) => void): void {
    this.unreachableHandler = handler;
  }

  /**
   * Credentials for connections made from now on (a renewed certificate). Every peer link is
   * dropped and made afresh on its next message; what was queued is lost, which Raft recovers from.
   */
  setChannelCredentials(credentials: grpc.ChannelCredentials): void {
    this.opts.channelCredentials = credentials;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  /** The state of the link to every peer this transport has sent to. */
  peerStatus(): PeerStatus[] {
    return [...this.peers.values()].map((p) => p.status());
  }

  /** Cancels every call, closes every channel and stops the server. Queued messages are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.server.forceShutdown();
    this.opts.logger.info({ address: this.localAddress }, 'raft transport: closed');
  }

  private peerLink(to: { id: ServerId; address: ServerAddress }): PeerLink | undefined {
    const existing = this.peers.get(to.id);
    if (existing?.address === to.address) return existing;
    // The peer moved (a configuration change gave it a new address): start over at the new one.
    existing?.close();
    this.peers.delete(to.id);
    try {
      const peer = new PeerLink(to.id, to.address, {
        credentials: this.opts.channelCredentials,
        channelOptions: this.channelOptions(),
        clock: this.opts.clock,
        random: this.opts.random,
        logger: this.opts.logger,
        maxQueuedMessages: this.opts.maxQueuedMessages,
        snapshotChunkBytes: this.opts.snapshotChunkBytes,
        reconnectBackoffMs: this.opts.reconnectBackoffMs,
        localAddress: this.localAddress,
        onBroken: () => this.unreachableHandler?.(to.id),
      });
      this.peers.set(to.id, peer);
      return peer;
    } catch (err) {
      // A bad address in the configuration: messages to it are lost, like any unreachable peer's.
      if (!this.invalidTargets.has(to.address)) {
        this.invalidTargets.add(to.address);
        this.opts.logger.warn({ err, peer: to.id, peerAddress: to.address }, 'raft transport: invalid peer address');
      }
      return undefined;
    }
  }

  private channelOptions(): grpc.ChannelOptions {
    return {
      ...this.opts.channelOptions,
      'grpc.max_send_message_length': this.opts.maxMessageBytes,
      'grpc.max_receive_message_length': this.opts.maxMessageBytes,
      'grpc.keepalive_time_ms': this.opts.keepaliveMs,
      'grpc.keepalive_timeout_ms': this.opts.keepaliveMs / 2,
      // A restarted peer should be reachable again within our own back-off, not gRPC's (up to 120 s).
      'grpc.initial_reconnect_backoff_ms': this.opts.reconnectBackoffMs.initial,
      'grpc.max_reconnect_backoff_ms': this.opts.reconnectBackoffMs.max,
      // Our own connection per peer, closed with the channel, rather than a process-wide shared one.
      'grpc.use_local_subchannel_pool': 1,
      // Retries would buffer every streamed message for replay; Raft recovers from loss itself.
      'grpc.enable_retries': 0,
    };
  }

  private serviceImplementation(): RaftTransportServer {
    return {
      stream: (call, callback) => {
        if (this.admits(call, callback)) this.receiveStream(call, callback);
      },
      installSnapshot: (call, callback) => {
        if (this.admits(call, callback)) this.receiveSnapshot(call, callback);
      },
    };
  }

  private admits(call: grpc.ServerReadableStream<unknown, StreamAck>, callback: grpc.sendUnaryData<StreamAck>): boolean {
    const refusal = this.opts.authorize(call);
    if (refusal === undefined) return true;
    this.opts.logger.warn({ peer: call.getPeer(), refusal }, 'raft transport: refusing a caller');
    callback({ code: grpc.status.PERMISSION_DENIED, details: refusal });
    return false;
  }

  private receiveStream(
    call: grpc.ServerReadableStream<RaftMessage, StreamAck>,
    callback: grpc.sendUnaryData<StreamAck>,
  ): void {
    const fromAddress = senderAddress(call.metadata);
    // Headers now tell the sender its stream is accepted (PeerLink resets its back-off on them).
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (wire: RaftMessage) => {
      let msg: Message;
      try {
        msg = messageFromProto(wire);
      } catch (err) {
        this.opts.logger.warn({ err, from: wire.from }, 'raft transport: dropping malformed message');
        return;
      }
      this.deliver(msg, fromAddress);
    });
    call.on('end', () => callback(null, {}));
    call.on('error', (err) => this.opts.logger.debug({ err }, 'raft transport: inbound stream ended'));
  }

  private receiveSnapshot(
    call: grpc.ServerReadableStream<SnapshotChunk, StreamAck>,
    callback: grpc.sendUnaryData<StreamAck>,
  ): void {
    const fromAddress = senderAddress(call.metadata);
    const assembler = new SnapshotAssembler();
    let failed = false;
    const fail = (err: unknown): void => {
      failed = true;
      this.opts.logger.warn({ err }, 'raft transport: rejecting snapshot');
      callback({ code: grpc.status.INVALID_ARGUMENT, details: String(err) });
    };
    call.on('data', (chunk: SnapshotChunk) => {
      if (failed) return;
      try {
        assembler.push(chunk);
      } catch (err) {
        fail(err);
      }
    });
    call.on('end', () => {
      if (failed) return;
      let msg: Message;
      try {
        msg = assembler.finish();
      } catch (err) {
        fail(err);
        return;
      }
      callback(null, {});
      this.deliver(msg, fromAddress);
    });
    call.on('error', (err) => this.opts.logger.debug({ err }, 'raft transport: inbound snapshot ended'));
  }

  private deliver(msg: Message, fromAddress: ServerAddress | undefined): void {
    if (this.closed) return;
    if (this.handler === undefined) {
      this.opts.logger.debug({ type: msg.type, from: msg.from }, 'raft transport: no handler yet, dropping');
      return;
    }
    try {
      this.handler(msg, fromAddress);
    } catch (err) {
      // The handler's failure must not tear down the stream it came on (and every message behind it).
      this.opts.logger.error({ err, type: msg.type, from: msg.from }, 'raft transport: message handler threw');
    }
  }
}

/** The address the sending transport advertises, from its call's metadata (see PeerLink). */
function senderAddress(metadata: grpc.Metadata): ServerAddress | undefined {
  const [value] = metadata.get(SENDER_ADDRESS_METADATA);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `address` with its port replaced: "127.0.0.1:0" and 4401 give "127.0.0.1:4401"; IPv6 in brackets works. */
function withPort(address: string, port: number): string {
  const colon = address.lastIndexOf(':');
  const host = colon > address.lastIndexOf(']') ? address.slice(0, colon) : address;
  return `${host}:${port}`;
}
