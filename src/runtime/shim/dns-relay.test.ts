/**
 * The DNS relay with real containers (needs root): shoal-runtime built into a temp directory, a
 * busybox rootfs, a fake of the agent's resolver on a unix socket (testing/fake-dns-agent.ts), and
 * queries from inside the container: busybox's nslookup, and for what it cannot do (two clients
 * with one DNS id, TCP, EDNS-less truncation) a small Node client run in the container's network
 * namespace through nsenter.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aAddress, decodeMessage, type DnsMessage, DNS_FLAG, DNS_RCODE, DNS_TYPE, dnsRcode, encodeQuery } from '../../network/dns/wire.js';
import { BIG_ANSWERS, FakeDnsAgent, WEB_ADDRESS } from './testing/fake-dns-agent.js';
import { runAsync, TestRuntime, type TestConfig } from './testing/test-runtime.js';

let t: TestRuntime;
let agent: FakeDnsAgent;

beforeAll(async () => {
  t = await TestRuntime.create();
  agent = new FakeDnsAgent(join(t.work, 'agent.sock'));
  await agent.start();
});

afterEach(() => t.deleteAll());

afterAll(async () => {
  await agent?.stop();
  await t?.dispose();
});

// ---- helpers ----

/** A bundle running `sleep`, with the relay aimed at the fake agent unless told not to. */
function makeBundle(opts: { relay?: boolean; change?: (c: TestConfig) => void } = {}): string {
  return t.makeBundle({ annotations: opts.relay === false ? {} : { 'org.shoal.dns.relay': agent.path }, change: opts.change });
}

const runDetached = (bundle: string) => t.runDetached(bundle);
const inContainer = (id: string, ...cmd: string[]) => t.exec(id, ...cmd);
const rt = (args: string[]) => t.rt(args);
const prefix = 'dns-relay';

/**
 * Sends raw queries to 127.0.0.11:53 from inside the container's network namespace: over UDP each
 * from a socket of its own, all at once; over TCP all on one connection. Prints the answers (hex,
 * in order, null for none within `wait` ms) as JSON.
 */
const CLIENT = `
const dgram = require('node:dgram'), net = require('node:net');
const [mode, wait, ...queries] = process.argv.slice(1);
const out = queries.map(() => null);
const done = () => { process.stdout.write(JSON.stringify(out)); process.exit(0); };
setTimeout(done, Number(wait));
if (mode === 'udp') {
  let left = queries.length;
  queries.forEach((hex, i) => {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => { out[i] = m.toString('hex'); s.close(); if (--left === 0) done(); });
    s.send(Buffer.from(hex, 'hex'), 53, '127.0.0.11');
  });
} else {
  const c = net.connect(53, '127.0.0.11');
  let buf = Buffer.alloc(0), n = 0;
  c.on('connect', () => {
    for (const hex of queries) {
      const q = Buffer.from(hex, 'hex'), len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      c.write(Buffer.concat([len, q]));
    }
  });
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      out[n++] = buf.subarray(2, 2 + buf.readUInt16BE(0)).toString('hex');
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      if (n === queries.length) done();
    }
  });
  c.on('error', done);
}`;

async function query(pid: number, mode: 'udp' | 'tcp', queries: Buffer[], wait = 3000): Promise<DnsMessage[]> {
  const r = await runAsync('nsenter', [
    `--net=/proc/${pid}/ns/net`,
    process.execPath,
    '-e',
    CLIENT,
    mode,
    String(wait),
    ...queries.map((q) => q.toString('hex')),
  ]);
  if (r.code !== 0) throw new Error(`client failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as (string | null)[]).map((hex) => {
    if (hex === null) throw new Error('no answer');
    return decodeMessage(Buffer.from(hex, 'hex'));
  });
}

function socketsOf(pid: number): number {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(join(dir, fd)).startsWith('socket:');
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

// ---- tests ----

describe('DNS relay (org.shoal.dns.relay)', () => {
  it('answers from the agent: nslookup in the container gets the address, and the hello names the container', async () => {
    const hellos = agent.hellos.length;
    const c = runDetached(makeBundle());
    await agent.helloCount(hellos + 1);
    expect(agent.hellos.at(-1)).toBe(`shoal-dns 1 ${c.id}`);

    const r = await inContainer(c.id, 'nslookup', 'web', '127.0.0.11');
    expect(r.stdout).toMatch(new RegExp(`Name:\\s+web\\s+Address:\\s+${WEB_ADDRESS.replaceAll('.', '\\.')}`));
    expect((await inContainer(c.id, 'ip', 'addr', 'show', 'lo')).stdout).toContain('inet 127.0.0.11/32');
    // The UDP socket, the TCP listener and the connection to the agent.
    expect(socketsOf(c.supervisorPid)).toBe(3);
  });

  it('answers SERVFAIL at once while the agent is away, and reconnects once it is back', async () => {
    const c = runDetached(makeBundle());
    expect((await inContainer(c.id, 'nslookup', 'web', '127.0.0.11')).stdout).toContain(WEB_ADDRESS);

    await agent.stop();
    // A relay that dropped the query would leave nslookup to time out and say so instead.
    const away = await inContainer(c.id, 'nslookup', 'web', '127.0.0.11');
    expect(away.stdout + away.stderr).toContain('SERVFAIL');
    const [raw] = await query(c.pid, 'udp', [encodeQuery(0x4242, 'web', DNS_TYPE.A)]);
    expect(raw.id).toBe(0x4242);
    expect(dnsRcode(raw.flags)).toBe(DNS_RCODE.SERVFAIL);
    expect(raw.questions).toEqual([{ name: 'web', type: DNS_TYPE.A, class: 1 }]);

    const hellos = agent.hellos.length;
    await agent.start();
    await agent.helloCount(hellos + 1); // the relay came back on its own
    expect(agent.hellos.at(-1)).toBe(`shoal-dns 1 ${c.id}`);
    expect((await inContainer(c.id, 'nslookup', 'web', '127.0.0.11')).stdout).toContain(WEB_ADDRESS);
  });

  it('answers SERVFAIL when the agent is there but does not answer', async () => {
    const c = runDetached(makeBundle());
    agent.silent = true;
    try {
      // The relay gives up after 4 s; the client waits longer, so an answer must come from the relay.
      const [raw] = await query(c.pid, 'udp', [encodeQuery(0x77, 'web', DNS_TYPE.A)], 15_000);
      expect(raw.id).toBe(0x77);
      expect(dnsRcode(raw.flags)).toBe(DNS_RCODE.SERVFAIL);
    } finally {
      agent.silent = false;
    }
    expect((await inContainer(c.id, 'nslookup', 'web', '127.0.0.11')).stdout).toContain(WEB_ADDRESS);
  });

  it('keeps apart two clients that use the same DNS id, whatever order the answers come in', async () => {
    const c = runDetached(makeBundle());
    const before = agent.queryIds.length;
    agent.holdFor = 2;
    try {
      const [web, other] = await query(c.pid, 'udp', [encodeQuery(0x1234, 'web', DNS_TYPE.A), encodeQuery(0x1234, 'other', DNS_TYPE.A)]);
      expect(web.id).toBe(0x1234);
      expect(web.questions[0].name).toBe('web');
      expect(web.answers.map(aAddress)).toEqual([WEB_ADDRESS]);
      expect(other.id).toBe(0x1234);
      expect(other.questions[0].name).toBe('other');
      expect(dnsRcode(other.flags)).toBe(DNS_RCODE.NXDOMAIN);
    } finally {
      agent.holdFor = 0;
    }
    const seen = agent.queryIds.slice(before);
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
  });

  it('serves TCP clients, and tells a UDP client to ask over TCP when the answer is too big', async () => {
    const c = runDetached(makeBundle());
    const [truncated] = await query(c.pid, 'udp', [encodeQuery(7, 'big', DNS_TYPE.A)]);
    expect(truncated.flags & DNS_FLAG.TC).toBeTruthy();
    expect(truncated.answers).toEqual([]);
    expect(truncated.questions[0].name).toBe('big');

    const [big, web] = await query(c.pid, 'tcp', [encodeQuery(7, 'big', DNS_TYPE.A), encodeQuery(8, 'web', DNS_TYPE.A)]);
    expect(big.id).toBe(7);
    expect(big.flags & DNS_FLAG.TC).toBeFalsy();
    expect(big.answers).toHaveLength(BIG_ANSWERS);
    expect(web.id).toBe(8);
    expect(web.answers.map(aAddress)).toEqual([WEB_ADDRESS]);
  });

  it('leaves a container without the annotation alone: no 127.0.0.11, no socket', async () => {
    const c = runDetached(makeBundle({ relay: false }));
    expect((await inContainer(c.id, 'ip', 'addr', 'show', 'lo')).stdout).not.toContain('127.0.0.11');
    expect(socketsOf(c.supervisorPid)).toBe(0);
  });

  it('refuses the annotation without a network namespace, or with a relative path', () => {
    const hostNet = makeBundle({
      change: (cfg) => (cfg.linux.namespaces = cfg.linux.namespaces.filter((n) => n.type !== 'network')),
    });
    const r1 = rt(['create', '--bundle', hostNet, `${prefix}-refused-1`]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toContain('org.shoal.dns.relay needs a network namespace');

    const relative = makeBundle({ change: (cfg) => (cfg.annotations!['org.shoal.dns.relay'] = 'agent.sock') });
    const r2 = rt(['create', '--bundle', relative, `${prefix}-refused-2`]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('must be an absolute path');
  });
});
