/**
 * The agent's DNS resolver: a unix stream socket that each container's DNS relay connects to (one
 * connection per container, opened by its supervisor). The hello says which container asks; every
 * query is then answered from the `ServiceDiscovery` view as it is when the query comes, so an
 * update counts from the next query on, and a container the view does not know yet is answered
 * REFUSED, its connection kept, until it does.
 *
 * Answers for the cluster's names are worked out synchronously and written at once, so one
 * connection never waits for another. Other names go to the node's nameservers (`upstream`), and
 * their answers are written when they come (the relay matches answers by id, not by order); with no
 * upstream they are REFUSED, and once `maxForwarding` queries are out, SERVFAIL. What a connection
 * may hold is bounded: a peer that stops reading its answers is not read either until they drain
 * (the relay then holds its queries, and times them out itself), and a peer that breaks the framing
 * is cut off.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../../common/logger.js';
import { systemRandom, type Random } from '../../common/random.js';
import { answerQuery, emptyAnswer, formatError, NOT_OURS, type AnswerSettings } from './answer.js';
import type { ServiceDiscovery } from './discovery.js';
import { RelayProtocolError, RelayReader } from './relay-stream.js';
import type { Upstream } from './upstream.js';
import { decodeMessage, DNS_RCODE, DnsWireError, encodeMessage, type DnsMessage } from './wire.js';
import { unixSocketAnswers } from '../../common/unix-socket.js';

export interface DnsResolverOptions {
  /** Where to listen; a socket left by a dead agent is replaced, one that still answers is not. */
  path: string;
  discovery: ServiceDiscovery;
  /** Defaults: 600 s for a VIP (Docker's TTL for every answer) and 0 for task addresses. */
  vipTtl?: number;
  taskTtl?: number;
  /** Shuffles multi-address answers. */
  random?: Random;
  logger?: Logger;
  /** Connections at once (one per container on the node); more are closed at once. Default 4096. */
  maxConnections?: number;
  /** A connection that has not said hello by then is closed. Default 5000 ms. */
  helloTimeoutMs?: number;
  /** Answer bytes queued to one connection beyond which it is not read until they drain. Default 256 KiB. */
  maxQueuedBytes?: number;
  /** The node's nameservers, for names that are not the cluster's; without them such names are REFUSED. */
  upstream?: Upstream;
  /** Forwarded queries out at once, over every connection; more are answered SERVFAIL. Default 256. */
  maxForwarding?: number;
}

export class DnsResolver {
  private readonly sockets = new Set<Socket>();
  private forwarding = 0;
  private readonly settings: AnswerSettings;
  private readonly logger: Logger;

  private constructor(
    private readonly server: Server,
    private readonly opts: DnsResolverOptions,
  ) {
    this.settings = { vipTtl: opts.vipTtl ?? 600, taskTtl: opts.taskTtl ?? 0, random: opts.random ?? systemRandom };
    this.logger = opts.logger ?? silentLogger;
  }

  get path(): string {
    return this.opts.path;
  }

  static async listen(opts: DnsResolverOptions): Promise<DnsResolver> {
    if (existsSync(opts.path)) {
      if (await unixSocketAnswers(opts.path)) throw new Error(`${opts.path} is in use by a running resolver`);
      unlinkSync(opts.path);
    }
    const server = createServer();
    const resolver = new DnsResolver(server, opts);
    server.maxConnections = opts.maxConnections ?? 4096;
    server.on('connection', (socket) => resolver.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Only root's supervisors may ask; a container never sees this socket.
    chmodSync(opts.path, 0o600);
    return resolver;
  }

  /** Stops listening, cuts every connection (their relays answer SERVFAIL and reconnect) and removes the socket. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      // Already gone: nothing to clean.
    }
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const reader = new RelayReader();
    const maxQueued = this.opts.maxQueuedBytes ?? 256 * 1024;
    let containerId: string | undefined;
    const helloTimer = setTimeout(() => {
      this.logger.warn('dns: a connection said no hello in time');
      socket.destroy();
    }, this.opts.helloTimeoutMs ?? 5000);
    helloTimer.unref();

    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => socket.resume());
    socket.on('data', (chunk: Buffer) => {
      let inputs;
      try {
        inputs = reader.push(chunk);
      } catch (err) {
        if (!(err instanceof RelayProtocolError)) throw err;
        this.logger.warn({ container: containerId, err: err.message }, 'dns: relay protocol error, closing');
        socket.destroy();
        return;
      }
      const send = (answers: Buffer[]): void => {
        if (answers.length === 0 || socket.destroyed) return;
        socket.write(answers.length === 1 ? answers[0] : Buffer.concat(answers));
        if (socket.writableLength > maxQueued) socket.pause();
      };
      const out: Buffer[] = [];
      for (const input of inputs) {
        if (input.kind === 'hello') {
          containerId = input.containerId;
          clearTimeout(helloTimer);
          this.logger.debug({ container: containerId }, 'dns: relay connected');
        } else if (containerId !== undefined) {
          const answer = this.answer(input.message, containerId);
          if (answer instanceof Promise) void answer.then((bytes) => send([frame(bytes)]));
          else out.push(frame(answer));
        }
      }
      send(out);
    });
  }

  /**
   * The encoded answer to one query, or its answer to come from upstream; FORMERR for what does not
   * decode (or, echoed, would not encode).
   */
  private answer(message: Buffer, containerId: string): Buffer | Promise<Buffer> {
    try {
      const query = decodeMessage(message);
      const reply = answerQuery(query, containerId, this.opts.discovery, this.settings);
      if (reply === NOT_OURS) return this.forward(message, query, containerId);
      this.logQuery(containerId, query, reply);
      return encodeMessage(reply);
    } catch (err) {
      if (!(err instanceof DnsWireError)) throw err;
      return encodeMessage(formatError(message));
    }
  }

  /** The upstream's answer as it came (its id put back), or REFUSED / SERVFAIL when there is none to have. */
  private forward(message: Buffer, query: DnsMessage, containerId: string): Buffer | Promise<Buffer> {
    const upstream = this.opts.upstream;
    if (!upstream) return this.failure(containerId, query, DNS_RCODE.REFUSED);
    if (this.forwarding >= (this.opts.maxForwarding ?? 256)) return this.failure(containerId, query, DNS_RCODE.SERVFAIL);
    this.forwarding++;
    return upstream.forward(message).then(
      (answer) => {
        this.forwarding--;
        if (this.logger.isLevelEnabled('debug')) this.logger.debug({ container: containerId, name: query.questions[0].name, rcode: answer.readUInt16BE(2) & 0xf }, 'dns: forwarded');
        return answer;
      },
      (err: Error) => {
        this.forwarding--;
        // Debug only: with the node's nameservers down, every query would log a line.
        this.logger.debug({ container: containerId, name: query.questions[0].name, err: err.message }, 'dns: forwarding failed');
        return this.failure(containerId, query, DNS_RCODE.SERVFAIL);
      },
    );
  }

  private failure(containerId: string, query: DnsMessage, rcode: number): Buffer {
    const reply = emptyAnswer(query, rcode);
    this.logQuery(containerId, query, reply);
    return encodeMessage(reply);
  }

  private logQuery(containerId: string, query: DnsMessage, reply: DnsMessage): void {
    if (!this.logger.isLevelEnabled('debug')) return;
    const q = query.questions[0];
    this.logger.debug({ container: containerId, name: q?.name, type: q?.type, rcode: reply.flags & 0xf, answers: reply.answers.length }, 'dns: query');
  }
}

function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length);
  message.copy(out, 2);
  return out;
}
