/**
 * For the forwarding tests: a fake of a node's nameserver on 127.0.0.1 (or `listen`'s address), UDP
 * and TCP on one port. It answers A queries for the names it is given (NODATA for their other
 * types, NXDOMAIN for other names), and can misbehave the ways forwarding must survive: keep
 * silent, answer truncated over UDP (the whole answer only over TCP), or send a forged answer
 * (wrong id) before the real one. It counts what it was asked.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { aRecord, decodeMessage, DNS_FLAG, DNS_RCODE, DNS_TYPE, encodeMessage, responseFlags, type DnsMessage } from '../wire.js';

export interface FakeUpstreamBehaviour {
  /** Never answers. */
  silent?: boolean;
  /** Answers over UDP with TC set and no records; the records only over TCP. */
  truncateUdp?: boolean;
  /** Sends an answer with another id first, then the real one. */
  forgeFirst?: boolean;
}

export interface FakeUpstreamListen {
  /** Default 127.0.0.1. */
  address?: string;
  /** Default: one the kernel picks. */
  port?: number;
}

export class FakeUpstream {
  /** Queries received, by transport, with the id each came with. */
  readonly asked: { transport: 'udp' | 'tcp'; id: number; name: string }[] = [];
  /** Called with each query's name as it comes. */
  onQuery?: (name: string) => void;
  private readonly connections = new Set<Socket>();

  private constructor(
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly address: string,
    readonly port: number,
    private readonly records: ReadonlyMap<string, string>,
    private readonly behaviour: FakeUpstreamBehaviour,
  ) {}

  /** `records`: name (no final dot, lower case) -> IPv4 address. */
  static async start(records: Record<string, string>, behaviour: FakeUpstreamBehaviour = {}, listen: FakeUpstreamListen = {}): Promise<FakeUpstream> {
    const address = listen.address ?? '127.0.0.1';
    // The port the kernel gives the UDP socket may be taken for TCP: then another pair is tried.
    for (;;) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(listen.port ?? 0, address, resolve);
      });
      const port = udp.address().port;
      const tcp = createServer();
      const listening = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, address, () => resolve(true));
      });
      if (!listening) {
        udp.close();
        if (listen.port !== undefined) throw new Error(`TCP port ${address}:${port} is taken`);
        continue;
      }
      const upstream = new FakeUpstream(udp, tcp, address, port, new Map(Object.entries(records)), behaviour);
      upstream.serve();
      return upstream;
    }
  }

  get server(): { address: string; port: number } {
    return { address: this.address, port: this.port };
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  private serve(): void {
    this.udp.on('message', (message, from) => {
      const query = decodeMessage(message);
      this.record('udp', query);
      if (this.behaviour.silent) return;
      const send = (m: DnsMessage): void => void this.udp.send(encodeMessage(m), from.port, from.address);
      if (this.behaviour.forgeFirst) send({ ...this.answer(query), id: (query.id + 1) & 0xffff, answers: [aRecord(query.questions[0].name, 60, '6.6.6.6')] });
      const answer = this.answer(query);
      send(this.behaviour.truncateUdp ? { ...answer, flags: answer.flags | DNS_FLAG.TC, answers: [] } : answer);
    });
    this.tcp.on('connection', (socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
      socket.on('error', () => socket.destroy());
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          const query = decodeMessage(received.subarray(2, 2 + received.readUInt16BE(0)));
          received = received.subarray(2 + received.readUInt16BE(0));
          this.record('tcp', query);
          if (this.behaviour.silent) continue;
          const bytes = encodeMessage(this.answer(query));
          const framed = Buffer.alloc(2 + bytes.length);
          framed.writeUInt16BE(bytes.length, 0);
          bytes.copy(framed, 2);
          socket.write(framed);
        }
      });
    });
  }

  private record(transport: 'udp' | 'tcp', query: DnsMessage): void {
    const name = query.questions[0]?.name ?? '';
    this.asked.push({ transport, id: query.id, name });
    this.onQuery?.(name);
  }

  private answer(query: DnsMessage): DnsMessage {
    const question = query.questions[0];
    const address = this.records.get(question.name.replace(/\.$/, '').toLowerCase());
    return {
      id: query.id,
      flags: responseFlags(query.flags, address ? DNS_RCODE.NOERROR : DNS_RCODE.NXDOMAIN),
      questions: query.questions,
      // A name it knows has an A record only: other types get none (NODATA).
      answers: address && question.type === DNS_TYPE.A ? [aRecord(question.name, 60, address)] : [],
      authorities: [],
      additionals: [],
    };
  }
}
