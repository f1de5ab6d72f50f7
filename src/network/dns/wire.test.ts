import { describe, expect, it } from 'vitest';
import {
  aAddress,
  aRecord,
  decodeMessage,
  DNS_CLASS_IN,
  DNS_FLAG,
  DNS_RCODE,
  DNS_TYPE,
  dnsRcode,
  DnsWireError,
  encodeMessage,
  encodeQuery,
  responseFlags,
} from './wire.js';

describe('DNS wire format', () => {
  it('encodes a query as RFC 1035 lays it out', () => {
    const q = encodeQuery(0x1234, 'web.example', DNS_TYPE.A);
    expect(q.toString('hex')).toBe(
      '1234' + '0100' + '0001' + '0000' + '0000' + '0000' + '03776562' + '076578616d706c65' + '00' + '0001' + '0001',
    );
  });

  it('decodes what it encodes: questions, answers and their data', () => {
    const msg = {
      id: 7,
      flags: responseFlags(DNS_FLAG.RD, DNS_RCODE.NOERROR),
      questions: [{ name: 'web', type: DNS_TYPE.A, class: DNS_CLASS_IN }],
      answers: [aRecord('web', 600, '10.0.1.2'), aRecord('web', 600, '10.0.1.3')],
      authorities: [],
      additionals: [],
    };
    const back = decodeMessage(encodeMessage(msg));
    expect(back).toEqual(msg);
    expect(back.answers.map(aAddress)).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(back.flags & DNS_FLAG.QR).toBeTruthy();
    expect(back.flags & DNS_FLAG.RD).toBeTruthy();
    expect(dnsRcode(back.flags)).toBe(DNS_RCODE.NOERROR);
  });

  it('follows compression pointers in names', () => {
    // An answer whose name is a pointer to the question's name at offset 12.
    const query = encodeQuery(1, 'tasks.web', DNS_TYPE.A);
    const answer = Buffer.concat([Buffer.from('c00c000100010000003c00040a000105', 'hex')]);
    const buf = Buffer.concat([query, answer]);
    buf.writeUInt16BE(1, 6); // ancount
    const m = decodeMessage(buf);
    expect(m.answers[0].name).toBe('tasks.web');
    expect(aAddress(m.answers[0])).toBe('10.0.1.5');
  });

  it('refuses messages that run short, pointers that loop and oversized labels', () => {
    expect(() => decodeMessage(Buffer.alloc(5))).toThrow(DnsWireError);
    expect(() => decodeMessage(encodeQuery(1, 'web', DNS_TYPE.A).subarray(0, 16))).toThrow(DnsWireError);
    const loop = Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), Buffer.from('c00c00010001', 'hex')]);
    expect(() => decodeMessage(loop)).toThrow(/point back/);
    expect(() => encodeQuery(1, 'x'.repeat(64), DNS_TYPE.A)).toThrow(/63 bytes/);
    expect(() => aRecord('web', 1, '10.0.1')).toThrow(DnsWireError);
  });
});
