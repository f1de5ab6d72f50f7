/**
 * For dns-relay.test.ts: a fake of the agent's resolver on a unix socket, speaking the relay's
 * protocol (a hello line, then DNS messages framed as over TCP). It knows `web` = 10.0.1.2 and
 * `big` (more A records than fit a 512-byte UDP answer); other names are NXDOMAIN. It records
 * hellos and the ids queries came with, can hold answers back to send them in reverse order, and can
 * leave queries unanswered.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  aRecord,
  decodeMessage,
  DNS_RCODE,
  DNS_TYPE,
  encodeMessage,
  responseFlags,
  type DnsMessage,
  type DnsRecord,
} from '../../../network/dns/wire.js';

export const WEB_ADDRESS = '10.0.1.2';
export const BIG_ANSWERS = 60;

export class FakeDnsAgent {
  readonly hellos: string[] = [];
  /** The ids queries reached the agent with (the relay's own, not the clients'). */
  readonly queryIds: number[] = [];
  /** While set, answers wait until this many are held, then go out last first. */
  holdFor = 0;
  /** While set, queries are read and never answered, as by a hung agent. */
  silent = false;
  private held: { socket: Socket; answer: Buffer }[] = [];
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private helloWaiters: (() => void)[] = [];

  constructor(readonly path: string) {}

  async start(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, resolve);
    });
    this.server = server;
  }

  /** Gone as a restarting agent is: the socket closed, every connection cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  /** Resolves once `count` hellos have come in all told. */
  async helloCount(count: number): Promise<void> {
    while (this.hellos.length < count) await new Promise<void>((resolve) => this.helloWaiters.push(resolve));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    let greeted = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!greeted) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        this.hellos.push(buf.toString('utf8', 0, nl));
        for (const w of this.helloWaiters.splice(0)) w();
        buf = buf.subarray(nl + 1);
        greeted = true;
      }
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const query = decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        this.queryIds.push(query.id);
        if (!this.silent) this.send(socket, encodeMessage(answerTo(query)));
      }
    });
  }

  private send(socket: Socket, answer: Buffer): void {
    const framed = Buffer.concat([Buffer.alloc(2), answer]);
    framed.writeUInt16BE(answer.length);
    if (this.holdFor === 0) {
      socket.write(framed);
      return;
    }
    this.held.push({ socket, answer: framed });
    if (this.held.length < this.holdFor) return;
    for (const h of this.held.splice(0).reverse()) h.socket.write(h.answer);
  }
}

function answerTo(query: DnsMessage): DnsMessage {
  const q = query.questions[0];
  const known = q && (q.name === 'web' || q.name === 'big');
  let answers: DnsRecord[] = [];
  if (q?.name === 'web' && q.type === DNS_TYPE.A) answers = [aRecord('web', 60, WEB_ADDRESS)];
  if (q?.name === 'big' && q.type === DNS_TYPE.A)
    answers = Array.from({ length: BIG_ANSWERS }, (_, i) => aRecord('big', 60, `10.0.2.${i + 1}`));
  return {
    id: query.id,
    flags: responseFlags(query.flags, known ? DNS_RCODE.NOERROR : DNS_RCODE.NXDOMAIN),
    questions: query.questions,
    answers,
    authorities: [],
    additionals: [],
  };
}
