/**
 * DNS messages on the wire (RFC 1035, section 4): decoding a whole message, names with compression
 * pointers included, and encoding one without compression. Enough for the agent's resolver and its
 * tests: record data stays raw bytes, with helpers for the A records the resolver gives out.
 */

export const DNS_TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const;
export const DNS_CLASS_IN = 1;
export const DNS_RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Bits of the header's flags word. */
export const DNS_FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

export interface DnsMessage {
  id: number;
  /** The header's second word: QR, opcode, AA, TC, RD, RA, Z and the rcode. */
  flags: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export class DnsWireError extends Error {}

export function dnsRcode(flags: number): number {
  return flags & 0x000f;
}

/** The flags of a response to a query with these flags: its opcode and RD kept, RA set. */
export function responseFlags(queryFlags: number, rcode: number): number {
  return DNS_FLAG.QR | (queryFlags & 0x7900) | DNS_FLAG.RA | rcode;
}

export function aRecord(name: string, ttl: number, address: string): DnsRecord {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new DnsWireError(`not an IPv4 address: ${address}`);
  }
  return { name, type: DNS_TYPE.A, class: DNS_CLASS_IN, ttl, data: Buffer.from(octets) };
}

/** A PTR record: `name` (an in-addr.arpa name) points to `target`. */
export function ptrRecord(name: string, ttl: number, target: string): DnsRecord {
  return { name, type: DNS_TYPE.PTR, class: DNS_CLASS_IN, ttl, data: encodeName(target) };
}

/** The address in an A record's data. */
export function aAddress(record: DnsRecord): string {
  if (record.type !== DNS_TYPE.A || record.data.length !== 4) throw new DnsWireError('not an A record');
  return [...record.data].join('.');
}

// ---- decoding ----

class Reader {
  offset = 12;
  constructor(readonly buf: Buffer) {}

  need(n: number): void {
    if (this.offset + n > this.buf.length) throw new DnsWireError('message ends early');
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A name at the current offset, following pointers (each must point back, so none loops). */
  name(): string {
    const labels: string[] = [];
    let at = this.offset;
    let end = -1;
    let length = 0;
    for (;;) {
      if (at >= this.buf.length) throw new DnsWireError('name runs past the message');
      const len = this.buf[at];
      if ((len & 0xc0) === 0xc0) {
        if (at + 1 >= this.buf.length) throw new DnsWireError('name runs past the message');
        const target = ((len & 0x3f) << 8) | this.buf[at + 1];
        if (target >= at) throw new DnsWireError('compression pointer does not point back');
        if (end < 0) end = at + 2;
        at = target;
        continue;
      }
      if (len & 0xc0) throw new DnsWireError('unknown label type');
      if (len === 0) break;
      if (at + 1 + len > this.buf.length) throw new DnsWireError('name runs past the message');
      labels.push(this.buf.toString('latin1', at + 1, at + 1 + len));
      length += len + 1;
      if (length > 255) throw new DnsWireError('name longer than 255 bytes');
      at += 1 + len;
    }
    this.offset = end >= 0 ? end : at + 1;
    return labels.join('.');
  }

  record(): DnsRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const len = this.u16();
    this.need(len);
    const data = Buffer.from(this.buf.subarray(this.offset, this.offset + len));
    this.offset += len;
    return { name, type, class: klass, ttl, data };
  }
}

export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw new DnsWireError('shorter than a header');
  const r = new Reader(buf);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const records = (n: number): DnsRecord[] => Array.from({ length: n }, () => r.record());
  return {
    id: buf.readUInt16BE(0),
    flags: buf.readUInt16BE(2),
    questions,
    answers: records(counts[1]),
    authorities: records(counts[2]),
    additionals: records(counts[3]),
  };
}

// ---- encoding ----

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length > 63) throw new DnsWireError(`label longer than 63 bytes in ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new DnsWireError(`name longer than 255 bytes: ${name}`);
  return out;
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function encodeRecord(rec: DnsRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rec.type, 0);
  fixed.writeUInt16BE(rec.class, 2);
  fixed.writeUInt32BE(rec.ttl, 4);
  fixed.writeUInt16BE(rec.data.length, 8);
  return Buffer.concat([encodeName(rec.name), fixed, rec.data]);
}

export function encodeMessage(m: DnsMessage): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id, 0);
  header.writeUInt16BE(m.flags, 2);
  [m.questions, m.answers, m.authorities, m.additionals].forEach((list, i) => header.writeUInt16BE(list.length, 4 + 2 * i));
  const parts: Buffer[] = [header];
  for (const q of m.questions) parts.push(encodeName(q.name), u16(q.type), u16(q.class));
  for (const rec of [...m.answers, ...m.authorities, ...m.additionals]) parts.push(encodeRecord(rec));
  const out = Buffer.concat(parts);
  if (out.length > 65535) throw new DnsWireError('message longer than 65535 bytes');
  return out;
}

/** A query for one name (RD set, as stub resolvers send it). */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  return encodeMessage({
    id,
    flags: DNS_FLAG.RD,
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}
