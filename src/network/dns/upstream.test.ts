/**
 * Forwarding to upstream nameservers, against fake ones on loopback (testing/fake-upstream.ts):
 * nothing leaves the machine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './testing/fake-upstream.js';
import { Upstream, UpstreamError } from './upstream.js';
import { aAddress, decodeMessage, DNS_RCODE, DNS_TYPE, dnsRcode, encodeQuery } from './wire.js';
import { nameserversOf, parseUpstreamList } from './upstream-servers.js';

const fakes: FakeUpstream[] = [];

async function fake(...args: Parameters<typeof FakeUpstream.start>): Promise<FakeUpstream> {
  const f = await FakeUpstream.start(...args);
  fakes.push(f);
  return f;
}

afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

describe('Upstream', () => {
  it('answers from the server under the query id, though it asked under an id of its own', async () => {
    const server = await fake({ 'example.org': '192.0.2.7' });
    const answer = decodeMessage(await new Upstream([server.server]).forward(encodeQuery(4242, 'Example.org', DNS_TYPE.A)));
    expect(answer.id).toBe(4242);
    expect(answer.answers.map(aAddress)).toEqual(['192.0.2.7']);
    expect(server.asked).toHaveLength(1);
    expect(server.asked[0].name).toBe('Example.org');
    // The chance that a random id equals the container's is 1 in 65,536.
    expect(server.asked[0].id).not.toBe(4242);
  });

  it('passes the server\'s NXDOMAIN on as it is', async () => {
    const server = await fake({});
    const answer = decodeMessage(await new Upstream([server.server]).forward(encodeQuery(7, 'nowhere.example', DNS_TYPE.A)));
    expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.NXDOMAIN);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const server = await fake({ 'big.example': '192.0.2.8' }, { truncateUdp: true });
    const answer = decodeMessage(await new Upstream([server.server]).forward(encodeQuery(9, 'big.example', DNS_TYPE.A)));
    expect(answer.answers.map(aAddress)).toEqual(['192.0.2.8']);
    expect(server.asked.map((a) => a.transport)).toEqual(['udp', 'tcp']);
  });

  it('ignores an answer with another id and takes the real one', async () => {
    const server = await fake({ 'example.org': '192.0.2.7' }, { forgeFirst: true });
    const answer = decodeMessage(await new Upstream([server.server]).forward(encodeQuery(11, 'example.org', DNS_TYPE.A)));
    expect(answer.answers.map(aAddress)).toEqual(['192.0.2.7']);
  });

  it('goes on to the next server when one does not answer in time', async () => {
    const silent = await fake({}, { silent: true });
    const good = await fake({ 'example.org': '192.0.2.9' });
    const upstream = new Upstream([silent.server, good.server], { timeoutMs: 200 });
    const answer = decodeMessage(await upstream.forward(encodeQuery(12, 'example.org', DNS_TYPE.A)));
    expect(answer.answers.map(aAddress)).toEqual(['192.0.2.9']);
    expect(silent.asked).toHaveLength(1);
  });

  it('fails with every server\'s reason when none answers within the deadline', async () => {
    const silent = await fake({}, { silent: true });
    const other = await fake({}, { silent: true });
    const upstream = new Upstream([silent.server, other.server], { timeoutMs: 200, deadlineMs: 1000 });
    const failure = upstream.forward(encodeQuery(13, 'example.org', DNS_TYPE.A));
    await expect(failure).rejects.toBeInstanceOf(UpstreamError);
    await expect(failure).rejects.toThrow(`127.0.0.1:${silent.port}: no answer in 200 ms; 127.0.0.1:${other.port}: no answer in 200 ms`);
  });

  it('stops trying once the deadline has passed, leaving later servers unasked', async () => {
    const slow = await fake({}, { silent: true });
    const never = await fake({ 'example.org': '192.0.2.9' });
    const upstream = new Upstream([slow.server, never.server], { timeoutMs: 300, deadlineMs: 300 });
    await expect(upstream.forward(encodeQuery(14, 'example.org', DNS_TYPE.A))).rejects.toBeInstanceOf(UpstreamError);
    expect(never.asked).toEqual([]);
  });
});

describe('nameserversOf', () => {
  it('takes the nameserver lines with an address, in order', () => {
    const conf = '# generated\nsearch example.org\nnameserver 10.0.0.2\nnameserver   127.0.0.53\nnameserver fe80::1%eth0\nnameserver ::1\noptions ndots:2\n';
    expect(nameserversOf(conf)).toEqual([
      { address: '10.0.0.2', port: 53 },
      { address: '127.0.0.53', port: 53 },
      { address: '::1', port: 53 },
    ]);
  });
});

describe('parseUpstreamList', () => {
  it('reads addresses with and without ports, IPv6 in brackets, and none', () => {
    expect(parseUpstreamList('10.0.0.2,127.0.0.1:5353, [::1]:5353,::1')).toEqual([
      { address: '10.0.0.2', port: 53 },
      { address: '127.0.0.1', port: 5353 },
      { address: '::1', port: 5353 },
      { address: '::1', port: 53 },
    ]);
    expect(parseUpstreamList('none')).toEqual([]);
  });

  it('refuses what is not an address or a port, naming it', () => {
    expect(() => parseUpstreamList('dns.example')).toThrow('not an IP address: "dns.example"');
    expect(() => parseUpstreamList('10.0.0.2:0')).toThrow('not a port: "10.0.0.2:0"');
    expect(() => parseUpstreamList('10.0.0.2:53:1')).toThrow('not a port: "10.0.0.2:53:1"');
    expect(() => parseUpstreamList('')).toThrow('not an IP address: ""');
  });
});
