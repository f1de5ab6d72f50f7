import { describe, expect, it } from 'vitest';
import { RelayProtocolError, RelayReader } from './relay-stream.js';
import { DNS_TYPE, encodeQuery } from './wire.js';

function framed(message: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(message.length);
  return Buffer.concat([len, message]);
}

describe('RelayReader', () => {
  it('reads the hello and queries whatever the chunks they arrive in', () => {
    const q1 = encodeQuery(1, 'web', DNS_TYPE.A);
    const q2 = encodeQuery(2, 'tasks.web', DNS_TYPE.A);
    const stream = Buffer.concat([Buffer.from('shoal-dns 1 task-1\n'), framed(q1), framed(q2)]);
    // Every way of cutting the stream in two gives the same inputs.
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new RelayReader();
      const inputs = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(inputs).toEqual([
        { kind: 'hello', containerId: 'task-1' },
        { kind: 'query', message: q1 },
        { kind: 'query', message: q2 },
      ]);
    }
  });

  it('refuses a bad hello, a frame too short for a header and a response', () => {
    const bad = (bytes: Buffer | string) => () => new RelayReader().push(Buffer.from(bytes));
    expect(bad('shoal-dns 2 x\n')).toThrow(/version 2/);
    expect(bad('shoal-dns 1\n')).toThrow(RelayProtocolError);
    expect(bad('shoal-dns 1 a b\n')).toThrow(RelayProtocolError);
    expect(bad('x'.repeat(600))).toThrow(/no hello/);
    expect(bad(Buffer.concat([Buffer.from('shoal-dns 1 c\n'), Buffer.from([0, 11])]))).toThrow(/11 bytes/);
    const response = encodeQuery(1, 'web', DNS_TYPE.A);
    response[2] |= 0x80;
    expect(bad(Buffer.concat([Buffer.from('shoal-dns 1 c\n'), framed(response)]))).toThrow(/response/);
  });
});
