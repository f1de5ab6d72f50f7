/**
 * For the resolver's tests: a fake of a container's DNS relay (src/runtime/shim/dns-relay.c) on the
 * agent's unix socket. It sends the hello line, frames queries as DNS over TCP and matches answers
 * to queries by id, as the relay does; it can also send raw bytes, and stop reading its answers.
 */
import { connect, type Socket } from 'node:net';
import { decodeMessage, encodeQuery, type DnsMessage } from '../wire.js';

export class FakeRelay {
  private buf = Buffer.alloc(0);
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: DnsMessage) => void>();
  /** Resolves when the resolver closes the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        const answer = decodeMessage(this.buf.subarray(2, 2 + this.buf.readUInt16BE(0)));
        this.buf = this.buf.subarray(2 + this.buf.readUInt16BE(0));
        const resolve = this.waiting.get(answer.id);
        this.waiting.delete(answer.id);
        resolve?.(answer);
      }
    });
  }

  /** Connects and, unless `hello` is null, says the hello for `containerId` (or sends `hello` as is). */
  static async connect(path: string, containerId: string, hello?: string | null): Promise<FakeRelay> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const relay = new FakeRelay(socket);
    if (hello !== null) socket.write(hello ?? `shoal-dns 1 ${containerId}\n`);
    return relay;
  }

  /** Asks one question and resolves with the answer that carries its id. */
  ask(name: string, type: number): Promise<DnsMessage> {
    const id = this.nextId++;
    return this.askRaw(id, encodeQuery(id, name, type));
  }

  /** Sends `message` framed and resolves with the answer that carries `id`. */
  askRaw(id: number, message: Buffer): Promise<DnsMessage> {
    const answer = new Promise<DnsMessage>((resolve) => this.waiting.set(id, resolve));
    this.sendFramed(message);
    return answer;
  }

  sendFramed(message: Buffer): void {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(message.length);
    this.socket.write(Buffer.concat([len, message]));
  }

  close(): void {
    this.socket.destroy();
  }
}
