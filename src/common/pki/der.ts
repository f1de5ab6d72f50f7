/**
 * A minimal DER (X.690 Distinguished Encoding Rules) encoder and decoder: just the types X.509
 * certificates and PKCS#10 requests need. Node's crypto signs and verifies but cannot build these
 * structures, so shoal writes them itself.
 *
 * Encoders return the complete TLV (tag, length, value) as a Buffer, so structures compose by
 * nesting calls: `sequence(integer(2n), oid('1.2.3'))`. Only single-byte tags (numbers below 31)
 * are supported; no X.509 or PKCS#10 field needs more.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONTEXT_CLASS = 0x80;
const CONSTRUCTED = 0x20;

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given identifier octet. */
export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...elements: Buffer[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(elements));
}

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function setOf(...elements: Buffer[]): Buffer {
  return tlv(TAG.SET, Buffer.concat([...elements].sort(Buffer.compare)));
}

export function boolean(value: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

/** An INTEGER from a bigint, in the minimal two's-complement form DER requires. */
export function integer(value: bigint | number): Buffer {
  let v = BigInt(value);
  const bytes: number[] = [];
  // Emit bytes little end first until the remaining value is pure sign extension of the top byte.
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.unshift(byte);
    v >>= 8n;
    const signBit = (byte & 0x80) !== 0;
    if ((v === 0n && !signBit) || (v === -1n && signBit)) break;
  }
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

/** An INTEGER read as unsigned from big-endian bytes (serial numbers). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const needsPad = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return tlv(TAG.INTEGER, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed));
}

/** An OBJECT IDENTIFIER from its dotted form, e.g. '2.5.4.3'. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((part) => {
    if (!/^\d+$/.test(part)) throw new DerError(`invalid object identifier ${JSON.stringify(dotted)}`);
    return BigInt(part);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) {
    throw new DerError(`invalid object identifier ${JSON.stringify(dotted)}`);
  }
  const subidentifiers = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const sub of subidentifiers) {
    // Base 128, high bit set on every byte but the last.
    const groups: number[] = [Number(sub & 0x7fn)];
    for (let rest = sub >> 7n; rest > 0n; rest >>= 7n) groups.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

/** A BIT STRING whose content is whole bytes followed by `unusedBits` padding bits in the last. */
export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new DerError(`invalid unused bit count ${unusedBits}`);
  }
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (like keyUsage) with bits numbered from the most significant bit of the
 * first byte. DER drops trailing zero bits (X.690 11.2.2), so the encoding is as short as possible.
 */
export function namedBits(bitNumbers: readonly number[]): Buffer {
  if (bitNumbers.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bitNumbers);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bitNumbers) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Buffer): Buffer {
  return tlv(TAG.OCTET_STRING, bytes);
}

export function utf8String(value: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(value, 'utf8'));
}

export function printableString(value: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new DerError(`not a PrintableString: ${JSON.stringify(value)}`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(value, 'ascii'));
}

export function ia5String(value: string): Buffer {
  if (![...value].every((c) => c.charCodeAt(0) < 0x80)) throw new DerError(`not an IA5String: ${JSON.stringify(value)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(value, 'ascii'));
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

function wholeSeconds(date: Date): string {
  return `${twoDigits(date.getUTCMonth() + 1)}${twoDigits(date.getUTCDate())}${twoDigits(date.getUTCHours())}${twoDigits(
    date.getUTCMinutes(),
  )}${twoDigits(date.getUTCSeconds())}Z`;
}

/** UTCTime YYMMDDHHMMSSZ; only years 1950-2049 are representable. */
export function utcTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new DerError(`UTCTime cannot hold the year ${year}`);
  return tlv(TAG.UTC_TIME, Buffer.from(`${twoDigits(year % 100)}${wholeSeconds(date)}`, 'ascii'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ (whole seconds, UTC, as RFC 5280 4.1.2.5.2 requires). */
export function generalizedTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new DerError(`GeneralizedTime cannot hold the year ${year}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${wholeSeconds(date)}`, 'ascii'));
}

/** An X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
export function x509Time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date);
}

/** [n] EXPLICIT: the inner TLV wrapped in a constructed context-specific tag. */
export function explicit(tagNumber: number, inner: Buffer): Buffer {
  return tlv(CONTEXT_CLASS | CONSTRUCTED | checkTagNumber(tagNumber), inner);
}

/** [n] IMPLICIT: the content of a type under a context-specific tag in place of its own. */
export function implicit(tagNumber: number, content: Buffer, constructed = false): Buffer {
  return tlv(CONTEXT_CLASS | (constructed ? CONSTRUCTED : 0) | checkTagNumber(tagNumber), content);
}

function checkTagNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new DerError(`unsupported tag number ${n}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DerElement {
  /** The identifier octet, e.g. 0x30 for SEQUENCE, 0xa0 for [0] constructed. */
  tag: number;
  /** The value octets. */
  content: Buffer;
  /** The whole TLV, as it appeared in the input (what a signature covers). */
  raw: Buffer;
}

/** Reads one TLV at `offset`; DER rules: definite, minimal lengths only. */
export function readElement(input: Buffer, offset = 0): DerElement {
  if (offset + 2 > input.length) throw new DerError('truncated DER element');
  const tag = input[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  let length = input[offset + 1]!;
  let headerLength = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError('indefinite DER length');
    if (count > 4) throw new DerError('DER length too large');
    if (offset + 2 + count > input.length) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + input[offset + 2 + i]!;
    if (length < 0x80 || input[offset + 2] === 0) throw new DerError('non-minimal DER length');
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw new DerError('DER element runs past the end of its input');
  return { tag, content: input.subarray(offset + headerLength, end), raw: input.subarray(offset, end) };
}

/** Decodes a buffer that must hold exactly one TLV. */
export function decode(input: Buffer): DerElement {
  const element = readElement(input);
  if (element.raw.length !== input.length) throw new DerError('trailing bytes after DER element');
  return element;
}

/** The elements inside a constructed value (SEQUENCE, SET, explicit tags). */
export function children(element: DerElement): DerElement[] {
  if ((element.tag & CONSTRUCTED) === 0) throw new DerError(`tag 0x${element.tag.toString(16)} is not constructed`);
  const out: DerElement[] = [];
  for (let offset = 0; offset < element.content.length; ) {
    const child = readElement(element.content, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

/** Checks an element's tag, naming the field in the error. */
export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (!element) throw new DerError(`missing ${what}`);
  if (element.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${element.tag.toString(16)}`);
  return element;
}

export function contextTag(tagNumber: number, constructed: boolean): number {
  return CONTEXT_CLASS | (constructed ? CONSTRUCTED : 0) | checkTagNumber(tagNumber);
}

export function readInteger(element: DerElement): bigint {
  expectTag(element, TAG.INTEGER, 'INTEGER');
  const { content } = element;
  if (content.length === 0) throw new DerError('empty INTEGER');
  let value = 0n;
  for (const byte of content) value = (value << 8n) | BigInt(byte);
  // Negative when the top bit is set: subtract 2^(8n).
  if (content[0]! & 0x80) value -= 1n << BigInt(content.length * 8);
  return value;
}

export function readOid(element: DerElement): string {
  expectTag(element, TAG.OID, 'OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let current = 0n;
  for (const byte of element.content) {
    current = (current << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(current);
      current = 0n;
    }
  }
  if (arcs.length === 0 || element.content[element.content.length - 1]! & 0x80) throw new DerError('malformed OBJECT IDENTIFIER');
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** The bytes of a BIT STRING; only whole-byte strings (keys, signatures) are accepted. */
export function readBitStringBytes(element: DerElement): Buffer {
  expectTag(element, TAG.BIT_STRING, 'BIT STRING');
  if (element.content.length === 0 || element.content[0] !== 0) throw new DerError('BIT STRING with padding bits where whole bytes were expected');
  return element.content.subarray(1);
}

/** The text of a UTF8String, PrintableString or IA5String. */
export function readString(element: DerElement): string {
  switch (element.tag) {
    case TAG.UTF8_STRING:
      return element.content.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      return element.content.toString('ascii');
    default:
      throw new DerError(`unsupported string type 0x${element.tag.toString(16)}`);
  }
}

/** A UTCTime or GeneralizedTime in the forms RFC 5280 allows (UTC, whole seconds). */
export function readTime(element: DerElement): Date {
  const text = element.content.toString('ascii');
  let match: RegExpExecArray | null;
  let year: number;
  if (element.tag === TAG.UTC_TIME && (match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(match[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (element.tag === TAG.GENERALIZED_TIME && (match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(match[1]);
  } else {
    throw new DerError(`unsupported time ${JSON.stringify(text)}`);
  }
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [number, number, number, number, number];
  // Date.UTC would read years 0-99 as 1900-1999; setUTCFullYear takes the year as given.
  const date = new Date(Date.UTC(2000, 0, 1, hour, minute, second));
  date.setUTCFullYear(year, month - 1, day);
  return date;
}
