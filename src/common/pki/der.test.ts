import { describe, expect, it } from 'vitest';
import {
  bitString,
  boolean,
  children,
  decode,
  DerError,
  explicit,
  generalizedTime,
  implicit,
  integer,
  namedBits,
  octetString,
  oid,
  printableString,
  readInteger,
  readOid,
  readString,
  readTime,
  sequence,
  setOf,
  TAG,
  unsignedInteger,
  utcTime,
  utf8String,
  x509Time,
} from './der.js';
import { openssl } from './testing/openssl.js';

const hex = (b: Buffer) => b.toString('hex');

describe('DER encoding', () => {
  it('encodes INTEGERs in minimal two’s complement', () => {
    expect(hex(integer(0))).toBe('020100');
    expect(hex(integer(127))).toBe('02017f');
    expect(hex(integer(128))).toBe('02020080');
    expect(hex(integer(256))).toBe('02020100');
    expect(hex(integer(-1))).toBe('0201ff');
    expect(hex(integer(-128))).toBe('020180');
    expect(hex(integer(-129))).toBe('0202ff7f');
    for (const v of [0n, 1n, -1n, 255n, -256n, 65535n, 2n ** 64n, -(2n ** 70n) + 3n]) {
      expect(readInteger(decode(integer(v)))).toBe(v);
    }
  });

  it('encodes unsigned serial numbers without leading zeros, padding a high bit', () => {
    expect(hex(unsignedInteger(Buffer.from('00007f', 'hex')))).toBe('02017f');
    expect(hex(unsignedInteger(Buffer.from('80', 'hex')))).toBe('02020080');
    expect(hex(unsignedInteger(Buffer.from('0000', 'hex')))).toBe('020100');
  });

  it('encodes OBJECT IDENTIFIERs in base 128 and reads them back', () => {
    expect(hex(oid('1.2.840.113549'))).toBe('06062a864886f70d');
    expect(hex(oid('2.5.4.3'))).toBe('0603550403');
    expect(hex(oid('2.999.3'))).toBe('0603883703');
    for (const dotted of ['1.2.840.10045.4.3.2', '2.5.29.35', '1.3.6.1.5.5.7.3.2', '2.999.3', '0.39']) {
      expect(readOid(decode(oid(dotted)))).toBe(dotted);
    }
    expect(() => oid('1')).toThrow(DerError);
    expect(() => oid('1.40')).toThrow(DerError);
    expect(() => oid('3.1')).toThrow(DerError);
    expect(() => oid('1.x')).toThrow(DerError);
  });

  it('uses the long length form only past 127 bytes', () => {
    expect(hex(octetString(Buffer.alloc(127)).subarray(0, 2))).toBe('047f');
    expect(hex(octetString(Buffer.alloc(200)).subarray(0, 3))).toBe('0481c8');
    expect(hex(octetString(Buffer.alloc(300)).subarray(0, 4))).toBe('0482012c');
    expect(decode(octetString(Buffer.alloc(70_000, 7))).content.length).toBe(70_000);
  });

  it('drops trailing zero bits from named bit strings (keyUsage)', () => {
    expect(hex(namedBits([0]))).toBe('03020780'); // digitalSignature
    expect(hex(namedBits([0, 5, 6]))).toBe('03020186'); // + keyCertSign, cRLSign
    expect(hex(namedBits([8]))).toBe('0303070080');
    expect(hex(namedBits([]))).toBe('030100');
    expect(() => bitString(Buffer.alloc(0), 3)).toThrow(DerError);
  });

  it('sorts SET OF elements by their encoding', () => {
    expect(hex(setOf(integer(2), integer(1)))).toBe('3106020101020102');
  });

  it('encodes booleans, null, strings and context tags', () => {
    expect(hex(boolean(true))).toBe('0101ff');
    expect(hex(boolean(false))).toBe('010100');
    expect(readString(decode(utf8String('nœud')))).toBe('nœud');
    expect(readString(decode(printableString('Shoal CA')))).toBe('Shoal CA');
    expect(() => printableString('a@b')).toThrow(DerError);
    expect(hex(explicit(0, integer(2)))).toBe('a003020102');
    expect(hex(implicit(7, Buffer.from([127, 0, 0, 1])))).toBe('87047f000001');
    expect(hex(implicit(0, Buffer.alloc(0), true))).toBe('a000');
  });

  it('writes X.509 times as UTCTime through 2049 and GeneralizedTime from 2050', () => {
    const t2049 = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));
    const t2050 = new Date(Date.UTC(2050, 0, 1, 0, 0, 0));
    expect(utcTime(t2049).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(x509Time(t2049)[0]).toBe(TAG.UTC_TIME);
    expect(x509Time(t2050)[0]).toBe(TAG.GENERALIZED_TIME);
    expect(generalizedTime(t2050).toString('latin1').slice(2)).toBe('20500101000000Z');
    expect(() => utcTime(t2050)).toThrow(DerError);
    const year75 = new Date(Date.UTC(2000, 0, 1));
    year75.setUTCFullYear(75, 6, 4);
    for (const t of [t2049, t2050, year75, new Date(Date.UTC(1950, 0, 1)), new Date(Date.UTC(2026, 5, 7, 8, 9, 10))]) {
      expect(readTime(decode(x509Time(t))).getTime()).toBe(t.getTime());
    }
    // Fractions of a second are not representable; they are dropped, never rounded up.
    expect(readTime(decode(x509Time(new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 999))))).getTime()).toBe(Date.UTC(2030, 0, 1));
  });
});

describe('DER decoding', () => {
  it('walks nested structures and keeps each element’s raw bytes', () => {
    const inner = sequence(integer(5), oid('2.5.4.3'));
    const outer = decode(sequence(inner, octetString(Buffer.from('hi'))));
    const [first, second] = children(outer);
    expect(first!.raw.equals(inner)).toBe(true);
    expect(second!.content.toString()).toBe('hi');
    expect(readInteger(children(first!)[0]!)).toBe(5n);
  });

  it('refuses what DER forbids or what is cut short', () => {
    expect(() => decode(Buffer.from('0481050102030405', 'hex'))).toThrow(/non-minimal/); // short length in long form
    expect(() => decode(Buffer.from('3080020100 0000'.replace(/ /g, ''), 'hex'))).toThrow(/indefinite/);
    expect(() => decode(Buffer.from('040301', 'hex'))).toThrow(/past the end/);
    expect(() => decode(Buffer.from('02010100', 'hex'))).toThrow(/trailing/);
    expect(() => decode(Buffer.from('1f', 'hex'))).toThrow(/truncated/);
    expect(() => decode(Buffer.from('1f0100', 'hex'))).toThrow(/multi-byte/);
    expect(() => children(decode(integer(1)))).toThrow(/not constructed/);
    expect(() => readOid(decode(Buffer.from('060188', 'hex')))).toThrow(/malformed/);
  });

  it('produces structures openssl asn1parse reads the same way', () => {
    const der = sequence(
      integer(-129),
      oid('1.2.840.10045.4.3.2'),
      setOf(utf8String('b'), utf8String('a')),
      explicit(3, boolean(true)),
      utcTime(new Date(Date.UTC(2030, 0, 2, 3, 4, 5))),
      octetString(Buffer.alloc(200, 1)),
    );
    const { ok, output } = openssl(['asn1parse', '-inform', 'DER', '-in', 'x.der'], { 'x.der': der });
    expect(ok).toBe(true);
    expect(output).toMatch(/INTEGER\s+:-81/);
    expect(output).toMatch(/OBJECT\s+:ecdsa-with-SHA256/);
    expect(output).toMatch(/UTF8STRING\s+:a[\s\S]*UTF8STRING\s+:b/);
    expect(output).toMatch(/cont \[ 3 \][\s\S]*BOOLEAN\s+:255/);
    expect(output).toMatch(/UTCTIME\s+:300102030405Z/);
    expect(output).toMatch(/OCTET STRING\s+\[HEX DUMP\]:(01){200}/);
  });
});
