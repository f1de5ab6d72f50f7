import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { ServiceDiscovery, type DiscoveryService, type DiscoveryView } from './discovery.js';
import { DnsResolver } from './resolver.js';
import { FakeRelay } from './testing/fake-relay.js';
import { FakeUpstream, type FakeUpstreamBehaviour } from './testing/fake-upstream.js';
import { Upstream } from './upstream.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { aAddress, DNS_CLASS_IN, DNS_FLAG, DNS_RCODE, DNS_TYPE, dnsRcode, encodeMessage, encodeQuery } from './wire.js';

const WEB: DiscoveryService = {
  name: 'web',
  mode: 'vip',
  vip: '10.0.1.2/24',
  aliases: ['www'],
  tasks: [
    { name: 'web.1.t1', address: '10.0.1.5/24', aliases: ['web-one'] },
    { name: 'web.2.t2', address: '10.0.1.6/24' },
  ],
};
const DB: DiscoveryService = {
  name: 'db',
  mode: 'dnsrr',
  tasks: [
    { name: 'db.1.d1', address: '10.0.1.10' },
    { name: 'db.2.d2', address: '10.0.1.11' },
    { name: 'db.3.d3', address: '10.0.1.12' },
  ],
};
const SECRET: DiscoveryService = { name: 'secret', mode: 'vip', vip: '10.0.2.2', tasks: [{ name: 'secret.1.s1', address: '10.0.2.5' }] };

function view(overrides: Partial<DiscoveryView> = {}): DiscoveryView {
  return {
    networks: new Map([
      ['net-a', [WEB, DB]],
      ['net-b', [SECRET]],
    ]),
    containers: new Map([
      ['c-a', ['net-a']],
      ['c-ab', ['net-a', 'net-b']],
    ]),
    ...overrides,
  };
}

let work: string;
let discovery: ServiceDiscovery;
let resolver: DnsResolver;
const relays: FakeRelay[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-dns-resolver-'));
});

afterEach(async () => {
  for (const r of relays.splice(0)) r.close();
  await resolver?.close();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function start(opts: Omit<Parameters<typeof DnsResolver.listen>[0], 'path' | 'discovery'> = {}): Promise<void> {
  discovery = new ServiceDiscovery(view());
  resolver = await DnsResolver.listen({ path: join(work, 'dns.sock'), discovery, random: seededRandom(7), ...opts });
}

/** The name in a PTR record's data (the resolver does not compress it). */
function nameInData(data: Buffer): string {
  const labels: string[] = [];
  for (let at = 0; data[at] !== 0; at += 1 + data[at]!) labels.push(data.toString('latin1', at + 1, at + 1 + data[at]!));
  return labels.join('.');
}

async function relay(containerId: string, hello?: string | null): Promise<FakeRelay> {
  const r = await FakeRelay.connect(resolver.path, containerId, hello);
  relays.push(r);
  return r;
}

async function addresses(r: FakeRelay, name: string): Promise<string[]> {
  const answer = await r.ask(name, DNS_TYPE.A);
  expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.NOERROR);
  return answer.answers.map(aAddress);
}

describe('DnsResolver', () => {
  it('answers a service name with its VIP, keeping the query id and question', async () => {
    await start();
    const r = await relay('c-a');
    const answer = await r.askRaw(0xbeef, encodeQuery(0xbeef, 'web', DNS_TYPE.A));
    expect(answer.id).toBe(0xbeef);
    expect(answer.flags & DNS_FLAG.QR).toBeTruthy();
    expect(answer.flags & DNS_FLAG.RD).toBeTruthy();
    expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.NOERROR);
    expect(answer.questions).toEqual([{ name: 'web', type: DNS_TYPE.A, class: DNS_CLASS_IN }]);
    expect(answer.answers.map(aAddress)).toEqual(['10.0.1.2']);
    expect(answer.answers[0].ttl).toBe(600);
    // A service alias is the service.
    expect(await addresses(r, 'www')).toEqual(['10.0.1.2']);
  });

  it('answers a dnsrr service with all its tasks, shuffled from one answer to the next', async () => {
    await start();
    const r = await relay('c-a');
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const got = await addresses(r, 'db');
      expect([...got].sort()).toEqual(['10.0.1.10', '10.0.1.11', '10.0.1.12']);
      orders.add(got.join(','));
    }
    expect(orders.size).toBeGreaterThan(1);
    expect((await r.ask('db', DNS_TYPE.A)).answers[0].ttl).toBe(0);
  });

  it('answers tasks.NAME with every task address, and a task name or task alias with its own', async () => {
    await start();
    const r = await relay('c-a');
    expect((await addresses(r, 'tasks.web')).sort()).toEqual(['10.0.1.5', '10.0.1.6']);
    expect((await addresses(r, 'tasks.www')).sort()).toEqual(['10.0.1.5', '10.0.1.6']);
    expect((await addresses(r, 'tasks.db')).sort()).toEqual(['10.0.1.10', '10.0.1.11', '10.0.1.12']);
    expect(await addresses(r, 'web.2.t2')).toEqual(['10.0.1.6']);
    expect(await addresses(r, 'web-one')).toEqual(['10.0.1.5']);
  });

  it('takes names in any case and with the final dot, answering with the name as asked', async () => {
    await start();
    const r = await relay('c-a');
    const answer = await r.ask('WeB.', DNS_TYPE.A);
    expect(answer.answers.map(aAddress)).toEqual(['10.0.1.2']);
    expect(answer.answers[0].name).toBe('WeB');
    expect((await addresses(r, 'TASKS.Db')).length).toBe(3);
  });

  it('answers only about the networks the container shares: NXDOMAIN for a service elsewhere', async () => {
    await start();
    const a = await relay('c-a');
    const ab = await relay('c-ab');
    const denied = await a.ask('secret', DNS_TYPE.A);
    expect(dnsRcode(denied.flags)).toBe(DNS_RCODE.NXDOMAIN);
    expect(denied.answers).toEqual([]);
    expect(dnsRcode((await a.ask('tasks.secret', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.NXDOMAIN);
    expect(dnsRcode((await a.ask('secret.1.s1', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.NXDOMAIN);
    expect(await addresses(ab, 'secret')).toEqual(['10.0.2.2']);
    expect(await addresses(ab, 'web')).toEqual(['10.0.1.2']);
  });

  it('answers REFUSED for names that are not the cluster\'s when it has no upstream', async () => {
    await start();
    const r = await relay('c-a');
    for (const name of ['example.com', 'nope', 'tasks.nope', 'web.example.com']) {
      const answer = await r.ask(name, DNS_TYPE.A);
      expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.REFUSED);
      expect(answer.answers).toEqual([]);
    }
  });

  describe('with upstream nameservers', () => {
    const upstreams: FakeUpstream[] = [];
    afterEach(async () => {
      await Promise.all(upstreams.splice(0).map((u) => u.stop()));
    });
    async function startForwarding(records: Record<string, string>, behaviour: FakeUpstreamBehaviour = {}, maxForwarding?: number, timeoutMs = 300): Promise<FakeUpstream> {
      const fake = await FakeUpstream.start(records, behaviour);
      upstreams.push(fake);
      await start({ upstream: new Upstream([fake.server], { timeoutMs, deadlineMs: timeoutMs }), maxForwarding });
      return fake;
    }

    it('forwards names that are not the cluster\'s and passes the answer on; its own names never leave', async () => {
      const fake = await startForwarding({ 'example.com': '192.0.2.10' });
      const r = await relay('c-a');
      expect(await addresses(r, 'example.com')).toEqual(['192.0.2.10']);
      expect(dnsRcode((await r.ask('nowhere.example', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.NXDOMAIN);
      // The cluster's names: answered here, found or not, and never asked upstream.
      expect(await addresses(r, 'web')).toEqual(['10.0.1.2']);
      expect(dnsRcode((await r.ask('secret', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.NXDOMAIN);
      // A container the view does not know yet may be asking for a name of the cluster's.
      const stranger = await relay('c-unknown');
      expect(dnsRcode((await stranger.ask('elsewhere.example', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.REFUSED);
      expect(fake.asked.map((a) => a.name)).toEqual(['example.com', 'nowhere.example']);
    });

    it('answers SERVFAIL, the question repeated, when the upstream does not answer', async () => {
      await startForwarding({}, { silent: true });
      const r = await relay('c-a');
      const answer = await r.ask('example.com', DNS_TYPE.A);
      expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.SERVFAIL);
      expect(answer.questions.map((q) => q.name)).toEqual(['example.com']);
    });

    it('answers the cluster\'s names at once while a forwarded query waits, and SERVFAIL beyond maxForwarding', async () => {
      const fake = await startForwarding({}, { silent: true }, 1, 3000);
      const r = await relay('c-a');
      let answeredSlow = false;
      const waiting = r.ask('slow.example', DNS_TYPE.A).finally(() => (answeredSlow = true));
      await waitFor('the first query upstream', () => fake.asked.length === 1);
      expect(dnsRcode((await r.ask('second.example', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.SERVFAIL);
      expect(await addresses(r, 'web')).toEqual(['10.0.1.2']);
      expect(answeredSlow).toBe(false);
      expect(dnsRcode((await waiting).flags)).toBe(DNS_RCODE.SERVFAIL);
      expect(fake.asked.map((a) => a.name)).toEqual(['slow.example']);
    });
  });

  it('answers PTR for the addresses it gave out on shared networks: task names and service names', async () => {
    await start();
    const r = await relay('c-a');
    const pointer = async (name: string): Promise<{ rcode: number; targets: string[] }> => {
      const answer = await r.ask(name, DNS_TYPE.PTR);
      return { rcode: dnsRcode(answer.flags), targets: answer.answers.map((a) => nameInData(a.data)) };
    };
    expect(await pointer('5.1.0.10.in-addr.arpa')).toEqual({ rcode: DNS_RCODE.NOERROR, targets: ['web.1.t1'] });
    expect(await pointer('2.1.0.10.IN-ADDR.ARPA.')).toEqual({ rcode: DNS_RCODE.NOERROR, targets: ['web'] });
    expect(await pointer('11.1.0.10.in-addr.arpa')).toEqual({ rcode: DNS_RCODE.NOERROR, targets: ['db.2.d2'] });
    // secret's task, on a network c-a is not on; then an address the cluster never gave out.
    expect(await pointer('5.2.0.10.in-addr.arpa')).toEqual({ rcode: DNS_RCODE.NXDOMAIN, targets: [] });
    expect(await pointer('9.9.0.10.in-addr.arpa')).toEqual({ rcode: DNS_RCODE.REFUSED, targets: [] });
  });

  it('answers AAAA and other types for its names with no records (NODATA)', async () => {
    await start();
    const r = await relay('c-a');
    for (const type of [DNS_TYPE.AAAA, DNS_TYPE.TXT, DNS_TYPE.SRV]) {
      const answer = await r.ask('web', type);
      expect(dnsRcode(answer.flags)).toBe(DNS_RCODE.NOERROR);
      expect(answer.answers).toEqual([]);
    }
    expect(dnsRcode((await r.ask('example.com', DNS_TYPE.AAAA)).flags)).toBe(DNS_RCODE.REFUSED);
  });

  it('answers REFUSED to a container the view does not know, until an update adds it', async () => {
    await start();
    const r = await relay('c-new');
    expect(dnsRcode((await r.ask('web', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.REFUSED);
    discovery.update(view({ containers: new Map([['c-new', ['net-a']]]) }));
    expect(await addresses(r, 'web')).toEqual(['10.0.1.2']);
  });

  it('answers from the latest update on the next query', async () => {
    await start();
    const r = await relay('c-a');
    expect(await addresses(r, 'web')).toEqual(['10.0.1.2']);
    discovery.update(
      view({
        networks: new Map([['net-a', [{ ...WEB, vip: '10.0.1.99' }, { ...DB, tasks: DB.tasks.slice(0, 1) }]]]),
      }),
    );
    expect(await addresses(r, 'web')).toEqual(['10.0.1.99']);
    expect(await addresses(r, 'db')).toEqual(['10.0.1.10']);
    discovery.update(view({ networks: new Map([['net-a', [{ ...DB, tasks: [] }]]]) }));
    expect(dnsRcode((await r.ask('web', DNS_TYPE.A)).flags)).toBe(DNS_RCODE.REFUSED);
    // A dnsrr service with nothing running is still a name: no addresses, no error.
    expect(await addresses(r, 'db')).toEqual([]);
  });

  it('answers NOTIMP to other opcodes and FORMERR to what does not decode', async () => {
    await start();
    const r = await relay('c-a');
    const notify = encodeQuery(11, 'web', DNS_TYPE.A);
    notify.writeUInt16BE((4 << 11) | DNS_FLAG.RD, 2); // opcode NOTIFY
    expect(dnsRcode((await r.askRaw(11, notify)).flags)).toBe(DNS_RCODE.NOTIMP);

    const cut = encodeQuery(12, 'web', DNS_TYPE.A).subarray(0, 15);
    const formerr = await r.askRaw(12, cut);
    expect(dnsRcode(formerr.flags)).toBe(DNS_RCODE.FORMERR);

    const two = encodeMessage({
      id: 13,
      flags: DNS_FLAG.RD,
      questions: [
        { name: 'web', type: DNS_TYPE.A, class: DNS_CLASS_IN },
        { name: 'db', type: DNS_TYPE.A, class: DNS_CLASS_IN },
      ],
      answers: [],
      authorities: [],
      additionals: [],
    });
    expect(dnsRcode((await r.askRaw(13, two)).flags)).toBe(DNS_RCODE.FORMERR);
    // The connection goes on.
    expect(await addresses(r, 'web')).toEqual(['10.0.1.2']);
  });

  it('closes a connection that breaks the framing or says a wrong hello', async () => {
    await start();
    const short = await relay('c-a');
    short.socket.write(Buffer.from([0, 3, 1, 2, 3]));
    await short.closed;

    const response = await relay('c-a');
    const answerShaped = encodeQuery(1, 'web', DNS_TYPE.A);
    answerShaped[2] |= 0x80; // QR: a response
    response.sendFramed(answerShaped);
    await response.closed;

    await (await relay('c-a', 'shoal-dns 2 c-a\n')).closed;
    await (await relay('c-a', 'GET / HTTP/1.1\r\n')).closed;
    await (await relay('c-a', 'x'.repeat(1000))).closed;
  });

  it('closes a connection that says no hello in time', async () => {
    await start({ helloTimeoutMs: 50 });
    const silent = await relay('c-a', null);
    await silent.closed;
    const greeted = await relay('c-a');
    expect(await addresses(greeted, 'web')).toEqual(['10.0.1.2']);
  });

  it('keeps answering others while one connection does not read its answers', async () => {
    await start({ maxQueuedBytes: 4096 });
    const stuck = await relay('c-a');
    stuck.socket.pause();
    const query = encodeQuery(1, 'db', DNS_TYPE.A);
    const framed = Buffer.alloc(2 + query.length);
    framed.writeUInt16BE(query.length);
    query.copy(framed, 2);
    // Far more answers than the socket buffers hold.
    stuck.socket.write(Buffer.concat(Array.from({ length: 50_000 }, () => framed)));

    const other = await relay('c-ab');
    for (let i = 0; i < 5; i++) expect(await addresses(other, 'secret')).toEqual(['10.0.2.2']);
    // The resolver stopped reading the stuck one, so its queries still wait on its side.
    expect(stuck.socket.writableLength).toBeGreaterThan(0);
  });

  it('takes no more connections than it is allowed', async () => {
    await start({ maxConnections: 1 });
    const first = await relay('c-a');
    expect(await addresses(first, 'web')).toEqual(['10.0.1.2']);
    await (await relay('c-ab')).closed;
    expect(await addresses(first, 'web')).toEqual(['10.0.1.2']);
  });

  it('makes its socket 0600, replaces a dead one, refuses a live one and removes its own on close', async () => {
    const path = join(work, 'owned.sock');
    // A socket file left behind by an agent that died: bound, listening, then killed.
    const died = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(died.signal).toBe('SIGKILL');
    expect(statSync(path).isSocket()).toBe(true);
    discovery = new ServiceDiscovery(view());
    resolver = await DnsResolver.listen({ path, discovery });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(DnsResolver.listen({ path, discovery })).rejects.toThrow(/in use/);
    await resolver.close();
    expect(existsSync(path)).toBe(false);
  });
});
