/**
 * Forwarding to the node's nameservers: what the agent does with a name that is not the cluster's,
 * as Docker's embedded resolver forwards to the host's. The query goes out as the container sent it
 * but under an id of our own (random, so that an answer cannot be guessed by someone who saw the
 * container's), from a fresh UDP socket (a random source port), and only an answer from the server
 * asked, with that id and the same question, is taken; anything else on the socket is ignored. An
 * answer marked truncated is asked again over TCP, as a stub resolver would. Servers are tried in
 * order, each for `timeoutMs`, all within `deadlineMs`: the container's relay gives up at 4 s, so a
 * late answer would be thrown away anyway.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { decodeMessage, DNS_FLAG, DnsWireError, type DnsQuestion } from './wire.js';

export interface UpstreamServer {
  address: string;
  port: number;
}

export interface UpstreamOptions {
  /** One try of one server. Default 1500 ms. */
  timeoutMs?: number;
  /** Every try of a query together. Default 3500 ms, under the relay's 4 s. */
  deadlineMs?: number;
}

/** Every server failed or did not answer in time. */
export class UpstreamError extends Error {}

export class Upstream {
  private readonly timeoutMs: number;
  private readonly deadlineMs: number;

  constructor(
    readonly servers: readonly UpstreamServer[],
    options: UpstreamOptions = {},
  ) {
    if (servers.length === 0) throw new Error('an upstream needs at least one server');
    this.timeoutMs = options.timeoutMs ?? 1500;
    this.deadlineMs = options.deadlineMs ?? 3500;
  }

  /** The answer to `query` (a whole DNS message) from the first server that gives one, with the query's own id. */
  async forward(query: Buffer): Promise<Buffer> {
    const question = onlyQuestion(query);
    const deadline = Date.now() + this.deadlineMs;
    const failures: string[] = [];
    for (const server of this.servers) {
      const timeoutMs = Math.min(this.timeoutMs, deadline - Date.now());
      if (timeoutMs <= 0) break;
      try {
        const id = randomInt(0x10000);
        let answer = await exchangeUdp(server, withId(query, id), id, question, timeoutMs);
        if (answer.readUInt16BE(2) & DNS_FLAG.TC) {
          answer = await exchangeTcp(server, withId(query, id), id, question, Math.max(1, deadline - Date.now()));
        }
        return withId(answer, query.readUInt16BE(0));
      } catch (err) {
        failures.push(`${server.address}:${server.port}: ${(err as Error).message}`);
      }
    }
    throw new UpstreamError(`no upstream nameserver answered (${failures.join('; ') || 'out of time'})`);
  }
}

function onlyQuestion(message: Buffer): DnsQuestion {
  const questions = decodeMessage(message).questions;
  if (questions.length !== 1) throw new DnsWireError('a forwarded query must have exactly one question');
  return questions[0];
}

function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
}

/** Whether `message` answers the query sent with `id` and `question`: a response, same id, same question. */
function answers(message: Buffer, id: number, question: DnsQuestion): boolean {
  if (message.length < 12 || message.readUInt16BE(0) !== id || !(message.readUInt16BE(2) & DNS_FLAG.QR)) return false;
  try {
    const got = decodeMessage(message).questions;
    return got.length === 1 && got[0].type === question.type && got[0].class === question.class && sameName(got[0].name, question.name);
  } catch {
    return false;
  }
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** The end of one exchange: an answer or an error, taken once; whatever comes later is dropped. */
type Finish = (err: Error | null, answer?: Buffer) => void;

/**
 * Runs one exchange: `start` sends and calls `finish` when it has an answer or has failed; after
 * `timeoutMs` it fails on its own. `close` then releases the socket, whichever came first.
 */
function exchange(timeoutMs: number, timeoutMessage: string, close: () => void, start: (finish: Finish) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish: Finish = (err, answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(timeoutMessage)), timeoutMs);
    start(finish);
  });
}

function exchangeUdp(server: UpstreamServer, query: Buffer, id: number, question: DnsQuestion, timeoutMs: number): Promise<Buffer> {
  const socket = createSocket(server.address.includes(':') ? 'udp6' : 'udp4');
  return exchange(timeoutMs, `no answer in ${timeoutMs} ms`, () => socket.close(), (finish) => {
    socket.on('error', (err) => finish(err));
    socket.on('message', (message, from) => {
      // Only the server asked, and only an answer to this query: anything else may be spoofed.
      if (from.address !== server.address || from.port !== server.port || !answers(message, id, question)) return;
      finish(null, message);
    });
    socket.send(query, server.port, server.address, (err) => {
      if (err) finish(err);
    });
  });
}

function exchangeTcp(server: UpstreamServer, query: Buffer, id: number, question: DnsQuestion, timeoutMs: number): Promise<Buffer> {
  const socket = connect({ host: server.address, port: server.port });
  return exchange(timeoutMs, `no answer over TCP in ${timeoutMs} ms`, () => socket.destroy(), (finish) => {
    let received = Buffer.alloc(0);
    socket.on('error', (err) => finish(err));
    socket.on('connect', () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      const answer = received.subarray(2, 2 + received.readUInt16BE(0));
      if (answers(answer, id, question)) finish(null, Buffer.from(answer));
      else finish(new Error('the TCP answer does not match the query'));
    });
    socket.on('end', () => finish(new Error('the server closed the TCP connection without an answer')));
  });
}
