import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../types.js';
import { InmemNetwork, type InmemTransport } from './inmem.js';
import { sampleMessages } from './test-messages.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function heartbeat(from: string, to: string, term: number): Message {
  return { type: 'TimeoutNow', from, to, term };
}

describe('InmemTransport', () => {
  let net: InmemNetwork;
  const inboxes = new Map<string, Message[]>();
  let transports: InmemTransport[] = [];

  function server(address: string): InmemTransport {
    const t = net.connect(address);
    const inbox: Message[] = [];
    inboxes.set(address, inbox);
    t.onMessage((m) => inbox.push(m));
    transports.push(t);
    return t;
  }

  function setup(...addresses: string[]): InmemTransport[] {
    net = new InmemNetwork();
    inboxes.clear();
    transports = [];
    return addresses.map(server);
  }

  afterEach(async () => {
    await Promise.all(transports.map((t) => t.close()));
  });

  it('delivers every message type in order, after send() returns, as a copy', async () => {
    const [a] = setup('a', 'b');
    const msgs = sampleMessages('a', 'b');
    for (const m of msgs) a.send({ id: 'b', address: 'b' }, m);
    expect(inboxes.get('b')).toEqual([]);
    await flush();
    expect(inboxes.get('b')).toEqual(msgs);
    expect(inboxes.get('b')?.[0]).not.toBe(msgs[0]);
  });

  it('drops messages across a partition and delivers them again after heal', async () => {
    const [a, , c] = setup('a', 'b', 'c');
    net.partition(['a', 'b'], ['c']);
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 1));
    a.send({ id: 'c', address: 'c' }, heartbeat('a', 'c', 1));
    c.send({ id: 'a', address: 'a' }, heartbeat('c', 'a', 1));
    await flush();
    expect(inboxes.get('b')).toHaveLength(1);
    expect(inboxes.get('c')).toEqual([]);
    expect(inboxes.get('a')).toEqual([]);

    net.heal();
    a.send({ id: 'c', address: 'c' }, heartbeat('a', 'c', 2));
    await flush();
    expect(inboxes.get('c')).toEqual([heartbeat('a', 'c', 2)]);
  });

  it('loses a message that is in flight when the partition starts', async () => {
    const [a] = setup('a', 'b');
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 1));
    net.disconnect('b');
    await flush();
    expect(inboxes.get('b')).toEqual([]);
    net.reconnect('b');
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 2));
    await flush();
    expect(inboxes.get('b')).toEqual([heartbeat('a', 'b', 2)]);
  });

  it('cuts a link in one direction only', async () => {
    const [a, b] = setup('a', 'b');
    net.cutLink('a', 'b');
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 1));
    b.send({ id: 'a', address: 'a' }, heartbeat('b', 'a', 1));
    await flush();
    expect(inboxes.get('b')).toEqual([]);
    expect(inboxes.get('a')).toEqual([heartbeat('b', 'a', 1)]);
  });

  it('drops messages to closed or unknown servers, and lets a new server take the address', async () => {
    const [a, b] = setup('a', 'b');
    await b.close();
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 1));
    a.send({ id: 'x', address: 'nowhere' }, heartbeat('a', 'x', 1));
    await flush();
    expect(inboxes.get('b')).toEqual([]);

    server('b');
    a.send({ id: 'b', address: 'b' }, heartbeat('a', 'b', 2));
    await flush();
    expect(inboxes.get('b')).toEqual([heartbeat('a', 'b', 2)]);
  });

  it('refuses a second server at an address in use', () => {
    setup('a');
    expect(() => net.connect('a')).toThrow(/already in use/);
  });
});
