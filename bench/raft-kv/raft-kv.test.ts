/**
 * Integration: three raft-kv processes (the compiled dist/bench/raft-kv/main.js, real WAL, stores and
 * gRPC transport) on 127.0.0.1, driven by the stock etcdctl from the Debian package.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, sleep } from './local-cluster.js';

const exec = promisify(execFile);
const serverScript = join(process.cwd(), 'dist/bench/raft-kv/main.js');

async function etcdctl(endpoints: string[], ...args: string[]): Promise<string> {
  const { stdout } = await exec('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--command-timeout=10s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 120_000,
  });
  return stdout;
}

/** `etcdctl get` output (key and value lines) as [key, value] pairs. */
function pairs(output: string): [string, string][] {
  const lines = output.split('\n').filter((l) => l !== '');
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) out.push([lines[i]!, lines[i + 1]!]);
  return out;
}

describe('raft-kv cluster driven by etcdctl', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    if (!existsSync(serverScript)) throw new Error(`${serverScript} is missing: run \`npm run build\` first`);
    cluster = await LocalCluster.create({ flavor: 'raft-kv', serverScript, env: { SHOAL_LOG_LEVEL: 'warn' } });
    cluster.startAll();
    await cluster.waitForSettled();
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('puts, gets and deletes through any member', async () => {
    const [a, b, c] = cluster.endpoints() as [string, string, string];
    await etcdctl([a], 'put', 'fruit/apple', 'red');
    await etcdctl([b], 'put', 'fruit/banana', 'yellow');
    await etcdctl([c], 'put', 'fruit/cherry', 'dark red');
    expect(await etcdctl([b], 'put', 'fruit/apple', 'green', '--prev-kv')).toBe('OK\nfruit/apple\nred\n');

    for (const endpoint of [a, b, c]) {
      expect(pairs(await etcdctl([endpoint], 'get', '--prefix', 'fruit/'))).toEqual([
        ['fruit/apple', 'green'],
        ['fruit/banana', 'yellow'],
        ['fruit/cherry', 'dark red'],
      ]);
    }
    expect(await etcdctl([c], 'get', 'fruit/', '--prefix', '--keys-only', '-w', 'fields')).toMatch(/"Count" : 3/);

    expect(await etcdctl([c], 'del', 'fruit/banana')).toBe('1\n');
    expect(await etcdctl(cluster.endpoints(), 'del', '--prefix', 'fruit/')).toBe('2\n');
    expect(await etcdctl([a], 'get', '--prefix', 'fruit/')).toBe('');
  });

  it('reports exactly one leader in endpoint status', async () => {
    const status = await etcdctl(cluster.endpoints(), 'endpoint', 'status', '-w', 'simple');
    const leaders = status.split('\n').filter((line) => line.split(', ')[4] === 'true');
    expect(leaders).toHaveLength(1);
  });

  it('completes etcdctl check perf --load=s without a failed request', { timeout: 150_000 }, async () => {
    // The check's verdict is about speed, which is the benchmark's business; here every one of its
    // ~9000 writes (over a snapshot) and its final prefix delete must succeed.
    const output = await etcdctl(cluster.endpoints(), 'check', 'perf', '--load=s').catch(
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    expect(output).toMatch(/Throughput (is|too low)/);
    expect(output).not.toMatch(/ERROR|too many errors/);
    expect(await etcdctl(cluster.endpoints(), 'get', '--prefix', '/etcdctl-check-perf/', '--keys-only', '-w', 'fields')).toMatch(
      /"Count" : 0/,
    );
  });

  it('keeps serving writes and data after the leader is killed, and the member rejoins', async () => {
    await etcdctl(cluster.endpoints(), 'put', 'before-failover', 'kept');
    const leader = await cluster.waitForLeader();
    await cluster.kill(leader.id);

    const survivors = cluster.runningMembers().map((m) => m.clientAddress);
    // Until the survivors elect a leader a write fails fast ("no leader"); retry as a client would.
    let written = false;
    for (let attempt = 0; attempt < 60 && !written; attempt++) {
      written = await etcdctl(survivors, 'put', 'after-failover', 'written').then(
        (out) => out === 'OK\n',
        () => false,
      );
      if (!written) await sleep(250);
    }
    expect(written).toBe(true);
    expect(pairs(await etcdctl(survivors, 'get', 'before-failover'))).toEqual([['before-failover', 'kept']]);
    const newLeader = await cluster.waitForLeader();
    expect(newLeader.id).not.toBe(leader.id);

    cluster.startMember(leader.id);
    await cluster.waitForSettled();
    const rejoined = [leader.clientAddress];
    expect(pairs(await etcdctl(rejoined, 'get', 'after-failover', '--consistency=s'))).toEqual([['after-failover', 'written']]);
    expect(pairs(await etcdctl(rejoined, 'get', 'before-failover'))).toEqual([['before-failover', 'kept']]);
  });
});
