/**
 * The byte stream a container's DNS relay sends (src/runtime/shim/README.md, "The DNS relay"): the
 * hello line `shoal-dns 1 <container id>\n`, then DNS messages framed as over TCP (a 2-byte
 * big-endian length, then the message). Anything else means the peer is not a relay speaking this
 * version, and the connection is closed rather than guessed at.
 */

export class RelayProtocolError extends Error {}

export type RelayInput = { kind: 'hello'; containerId: string } | { kind: 'query'; message: Buffer };

/** The longest hello line taken; a container id is far shorter. */
const MAX_HELLO = 512;
/** The relay passes on only what holds a whole DNS header, and never a response. */
const HEADER = 12;
const QR = 0x80;

export class RelayReader {
  private buf: Buffer = Buffer.alloc(0);
  private greeted = false;

  /** The hellos and queries completed by `chunk`, in order; throws RelayProtocolError on what no relay sends. */
  push(chunk: Buffer): RelayInput[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RelayInput[] = [];
    if (!this.greeted) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) {
        if (this.buf.length > MAX_HELLO) throw new RelayProtocolError('no hello line');
        return out;
      }
      out.push({ kind: 'hello', containerId: parseHello(this.buf.toString('latin1', 0, nl)) });
      this.greeted = true;
      this.buf = this.buf.subarray(nl + 1);
    }
    let at = 0;
    while (this.buf.length - at >= 2) {
      const len = this.buf.readUInt16BE(at);
      if (len < HEADER) throw new RelayProtocolError(`a frame of ${len} bytes holds no DNS header`);
      if (this.buf.length - at < 2 + len) break;
      const message = this.buf.subarray(at + 2, at + 2 + len);
      if (message[2] & QR) throw new RelayProtocolError('a response where a query belongs');
      out.push({ kind: 'query', message });
      at += 2 + len;
    }
    // Copy the unfinished rest, so the chunk it came in is not kept alive by a few bytes.
    this.buf = at === this.buf.length ? Buffer.alloc(0) : at === 0 ? this.buf : Buffer.from(this.buf.subarray(at));
    return out;
  }
}

function parseHello(line: string): string {
  const parts = line.split(' ');
  if (parts.length !== 3 || parts[0] !== 'shoal-dns') throw new RelayProtocolError(`not a relay's hello: ${JSON.stringify(line.slice(0, 64))}`);
  if (parts[1] !== '1') throw new RelayProtocolError(`relay protocol version ${parts[1]}, not 1`);
  if (!/^[\x21-\x7e]+$/.test(parts[2])) throw new RelayProtocolError('the hello names no container');
  return parts[2];
}
