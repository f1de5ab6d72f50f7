/**
 * Issue 7's proof, end to end: overlay networks, service discovery, VIP load balancing and the
 * routing mesh on a cluster from deploy/local-suite.cluster.sh (one manager, two workers, each in its own
 * network namespace), with real containers of the cluster registry's busybox, driven through the
 * real CLI. What a container sees is read by running commands in it with the worker's runtime
 * (`shoal-runtime --root RUNTIME_ROOT exec TASK_ID ...`; a container's id is its task's). The
 * suites share the cluster and run in order. Needs root and a build (`npm run build`,
 * `bash src/runtime/shim/build.sh`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/daemon-process.js';
import { localClusterSuite } from '../support/local-cluster-suite.js';
import { runCommand, type CommandResult } from '../support/run-command.js';
import { isRunnable, isRunning, type ServiceJson, type TaskJson } from '../support/task-json.js';
import { waitFor } from '../support/wait-for.js';

const NAME = 'e2enet';
/** As in suite.cluster.test.ts: a restarted worker must be back before three missed heartbeats. */
const HEARTBEAT_MS = 2000;
/** Each CLI call is a Node process of its own: no point polling faster. */
const POLL_MS = 200;
/** Only stops a broken step from hanging; the cluster normally converges in seconds. */
const CONVERGE_MS = 60_000;
const RUNTIME = join(REPO_ROOT, 'dist', 'shim', 'shoal-runtime');
/** Every node's address on the cluster's bridge, as local-suite.cluster.sh gives them. */
const WORKER_ADDRESSES = ['10.213.0.101', '10.213.0.102'];

/** Serves its hostname (its task id's first 12 characters) on port 80; ends at once on SIGTERM. */
const SERVER = ['sh', '-c', 'trap "exit 0" TERM; mkdir -p /www; hostname > /www/index.html; httpd -f -p 80 -h /www & wait'];
const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; sleep 100000 & wait'];

interface NetTask extends TaskJson {
  status?: TaskJson['status'] & { pid?: number };
  networks?: { networkId?: string; address?: string }[];
  endpoint?: { ports?: { publishedPort?: number; publishMode?: string }[] };
}

interface NetService extends ServiceJson {
  endpoint?: { spec?: { mode?: string }; virtualIps?: { networkId?: string; address?: string }[] };
}

interface NodeJson {
  meta?: { id?: string };
  description?: { hostname?: string };
  status?: { state?: string };
}

/** The nameserver the workers forward names outside the cluster to: a fake in the hub namespace (see `hubNameserver`). */
const UPSTREAM = '10.213.0.1:5353';
const suite = localClusterSuite({ name: NAME, managers: 1, workers: 2, heartbeatPeriod: `${HEARTBEAT_MS}ms`, dnsUpstream: UPSTREAM });
/** Node id -> hostname (m1, w1, w2). */
const hostnames = new Map<string, string>();

beforeAll(async () => {
  for (const n of await json<NodeJson[]>('node', 'ls')) hostnames.set(n.meta!.id!, n.description!.hostname!);
});

const json = <T>(...args: string[]): Promise<T> => suite.cluster.json<T>(...args);

const tasksOf = (service: string): Promise<NetTask[]> => json<NetTask[]>('service', 'ps', service);
async function service(name: string): Promise<NetService> {
  return (JSON.parse(await suite.cluster.shoalOk('service', 'inspect', name)) as NetService[])[0]!;
}

/** Waits until the service has exactly `count` runnable tasks, all running. */
async function running(name: string, count: number): Promise<NetTask[]> {
  let tasks: NetTask[] = [];
  await waitFor(`${count} running tasks of ${name}`, async () => {
    tasks = (await tasksOf(name)).filter(isRunnable);
    return tasks.length === count && tasks.every(isRunning);
  }, CONVERGE_MS, POLL_MS);
  return tasks;
}

async function create(name: string, flags: string[], command: string[]): Promise<void> {
  await suite.cluster.shoalOk('service', 'create', '--detach', '--name', name, ...flags, suite.cluster.baseImage, ...command);
}

async function networkNames(): Promise<string[]> {
  return (await json<{ spec?: { annotations?: { name?: string } } }[]>('network', 'ls')).map((n) => n.spec?.annotations?.name ?? '');
}

const nodeOf = (t: NetTask): string => hostnames.get(t.nodeId!)!;
/** What the server answers with: the container's hostname. */
const hostnameOf = (t: NetTask): string => t.meta!.id!.slice(0, 12);
/** The task's address on its first network, without the prefix length. */
const addressOf = (t: NetTask): string => t.networks![0]!.address!.split('/')[0]!;

/** Runs a command in the task's container, on its worker. */
function execIn(t: NetTask, ...command: string[]): Promise<CommandResult> {
  return runCommand(RUNTIME, ['--root', `/run/shoal-local/${NAME}/${nodeOf(t)}`, 'exec', t.meta!.id!, ...command]);
}

/** The addresses busybox nslookup printed for the name (not the server's own `Address:` line). */
function answers(nslookup: string): string[] {
  return [...nslookup.matchAll(/^Name:\s+\S+\nAddress:\s+(\S+)$/gm)].map((m) => m[1]!);
}

/** `nslookup NAME` through the container's resolver: the addresses, or the error it printed. */
async function lookup(t: NetTask, name: string): Promise<{ code: number; addresses: string[]; output: string }> {
  const r = await execIn(t, 'nslookup', name, '127.0.0.11');
  return { code: r.code, addresses: answers(r.stdout).sort(), output: r.stdout + r.stderr };
}

/**
 * `count` HTTP requests from the container to the URL, one after the other; the hostnames that
 * answered and how many failed. (busybox wget's own -T, like its progress bar, crashes it: the
 * `timeout` applet bounds each request instead.)
 */
async function fetchFrom(t: NetTask, url: string, count: number): Promise<{ hostnames: string[]; failed: number }> {
  const loop = `for i in $(seq ${count}); do timeout 3 wget -q -O- ${url} || echo FAILED; done`;
  const lines = (await execIn(t, 'sh', '-c', loop)).stdout.split('\n').filter((l) => l !== '');
  return { hostnames: lines.filter((l) => l !== 'FAILED'), failed: lines.filter((l) => l === 'FAILED').length };
}

/** Polls until `count` requests from the container to the URL are all answered, by exactly `expected`. */
async function reachesAll(t: NetTask, url: string, expected: NetTask[], count = 20): Promise<void> {
  const want = expected.map(hostnameOf).sort();
  let last: { hostnames: string[]; failed: number } = { hostnames: [], failed: 0 };
  await waitFor(`${url} to reach ${want.join(', ')}`, async () => {
    last = await fetchFrom(t, url, count);
    return last.failed === 0 && sameSet(last.hostnames, want);
  }, CONVERGE_MS, POLL_MS).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last: ${JSON.stringify(last)}`);
  });
}

const sameSet = (a: string[], b: string[]): boolean => {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
};
/** The same elements as many times each, in any order. */
const sameList = (a: string[], b: string[]): boolean => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

describe('one overlay network over two workers', () => {
  let web: NetTask[];
  let client: NetTask;

  beforeAll(async () => {
    await suite.cluster.shoalOk('network', 'create', 'front');
    await create('web', ['--network', 'front', '--replicas', '3', '--constraint', 'node.hostname==w2'], SERVER);
    await create('client', ['--network', 'front', '--constraint', 'node.hostname==w1'], SLEEPER);
    web = await running('web', 3);
    [client] = await running('client', 1);
  }, CONVERGE_MS);

  it('a client on w1 reaches the server on w2 by its name (the VIP) and by tasks.NAME (the task addresses)', async () => {
    expect(nodeOf(client)).toBe('w1');
    expect(web.map(nodeOf)).toEqual(['w2', 'w2', 'w2']);
    const vip = (await service('web')).endpoint?.virtualIps?.[0]?.address?.split('/')[0];
    expect(vip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    await waitFor('web to give its VIP', async () => sameList((await lookup(client, 'web')).addresses, [vip!]), CONVERGE_MS, POLL_MS);
    await waitFor('tasks.web to give every task address', async () => sameList((await lookup(client, 'tasks.web')).addresses, web.map(addressOf)), CONVERGE_MS, POLL_MS);

    // The client's VIP table may trail its tasks by a state or two.
    let byName = { hostnames: [] as string[], failed: 1 };
    await waitFor('a request to http://web/ to be answered', async () => (byName = await fetchFrom(client, 'http://web/', 1)).failed === 0, CONVERGE_MS, POLL_MS);
    expect(web.map(hostnameOf)).toContain(byName.hostnames[0]);
    const byTasks = await fetchFrom(client, 'http://tasks.web/', 1);
    expect(byTasks.failed).toBe(0);
    expect(web.map(hostnameOf)).toContain(byTasks.hostnames[0]);
    // And plain IP across the nodes.
    for (const t of web) expect((await execIn(client, 'ping', '-c', '1', '-W', '2', addressOf(t))).code).toBe(0);
  });

  it('requests through the VIP reach every replica', async () => {
    await reachesAll(client, 'http://web/', web, 20);
  });

  it('--endpoint-mode dnsrr: the name gives every task address and there is no VIP', async () => {
    await create('rr', ['--network', 'front', '--endpoint-mode', 'dnsrr', '--replicas', '3'], SERVER);
    const rr = await running('rr', 3);
    const svc = await service('rr');
    expect(svc.endpoint?.spec?.mode).toBe('ENDPOINT_MODE_DNSRR');
    expect(svc.endpoint?.virtualIps ?? []).toEqual([]);

    let last = { code: 0, addresses: [] as string[], output: '' };
    await waitFor('rr to give its 3 task addresses', async () => {
      last = await lookup(client, 'rr');
      return last.code === 0 && sameList(last.addresses, rr.map(addressOf));
    }, CONVERGE_MS, POLL_MS).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last:\n${last.output}`);
    });
    // Each address is a task's: a request to the name reaches one of them.
    const r = await fetchFrom(client, 'http://rr/', 1);
    expect(r.failed).toBe(0);
    expect(rr.map(hostnameOf)).toContain(r.hostnames[0]);

    await suite.cluster.shoalOk('service', 'rm', 'rr');
  });

  it('a start-first rolling update with a healthcheck: a client looping through the VIP sees no failed request', async () => {
    const HEALTHY_LATER = ['sh', '-c', 'trap "exit 0" TERM; mkdir -p /www; hostname > /www/index.html; httpd -f -p 80 -h /www & (sleep 1; touch /tmp/healthy) & wait'];
    await create('roll', [
      // No --replicas-max-per-node: start-first needs room for a third task.
      '--network', 'front', '--replicas', '2',
      '--health-cmd', 'test -f /tmp/healthy', '--health-interval', '500ms', '--health-retries', '3',
      '--update-order', 'start-first', '--update-parallelism', '1', '--update-monitor', '1s',
    ], HEALTHY_LATER);
    const before = await running('roll', 2);
    await reachesAll(client, 'http://roll/', before, 10);

    const loop = execIn(client, 'sh', '-c', 'rm -f /tmp/stop /tmp/log; while [ ! -f /tmp/stop ]; do if r=$(timeout 3 wget -q -O- http://roll/ 2>&1); then echo "OK $r"; else echo "FAIL $? $r"; fi >> /tmp/log; done');
    const logLines = async (): Promise<string[]> => (await execIn(client, 'cat', '/tmp/log')).stdout.split('\n').filter((l) => l !== '');
    try {
      await waitFor('the client loop to run', async () => (await logLines()).length >= 5, CONVERGE_MS, POLL_MS);
      await suite.cluster.shoalOk('service', 'update', '--detach', '--env-add', 'VERSION=2', 'roll');
      let status: unknown;
      await waitFor('the update to complete', async () => {
        status = (await service('roll')).updateStatus;
        return (status as { state?: string } | undefined)?.state === 'UPDATE_STATE_COMPLETED';
      }, CONVERGE_MS, POLL_MS).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; last: ${JSON.stringify(status)}`);
      });
      const after = await running('roll', 2);
      expect(after.filter((t) => before.some((b) => b.meta!.id === t.meta!.id))).toEqual([]);
      await reachesAll(client, 'http://roll/', after, 10);
    } finally {
      await execIn(client, 'touch', '/tmp/stop');
      await loop;
    }
    const lines = await logLines();
    expect(lines.filter((l) => !l.startsWith('OK '))).toEqual([]);
    expect(lines.length).toBeGreaterThan(20);

    await suite.cluster.shoalOk('service', 'rm', 'roll');
  }, 180_000);

  it('a worker restarted (SIGTERM, then start) keeps its containers, and traffic to them still flows', async () => {
    const key = (t: NetTask): string => `${t.meta!.id}@${t.nodeId}:${t.status?.pid}`;
    const before = (await running('web', 3)).map(key).sort();

    await suite.cluster.stop('w2');
    await suite.cluster.start('w2');
    await waitFor('w2 to be ready', async () => {
      const w2 = (await json<NodeJson[]>('node', 'ls')).find((n) => n.description?.hostname === 'w2');
      return w2?.status?.state === 'NODE_STATE_READY';
    }, CONVERGE_MS, POLL_MS);

    const after = await running('web', 3);
    expect(after.map(key).sort()).toEqual(before);
    // From w1 to the restarted node's containers, through the VIP; and on w2, whose agent (and
    // so its DNS resolver) is new, its containers resolve and reach w1's again.
    await reachesAll(client, 'http://web/', after, 20);
    const vip = (await service('client')).endpoint?.virtualIps?.[0]?.address?.split('/')[0];
    await waitFor('a container on w2 to resolve client again', async () => {
      const r = await lookup(after[0]!, 'client');
      return r.code === 0 && r.addresses.length === 1 && r.addresses[0] === vip;
    }, CONVERGE_MS, POLL_MS);
    expect((await execIn(after[0]!, 'ping', '-c', '1', '-W', '2', addressOf(client))).code).toBe(0);
  });

  it('network rm is refused while a service uses the network and succeeds once none does', async () => {
    const refused = await suite.cluster.shoal('network', 'rm', 'front');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('shoal: network front is in use: used by services client, web');
    expect(await networkNames()).toContain('front');

    await suite.cluster.shoalOk('service', 'rm', 'web', 'client');
    // The network is in use until the services' tasks are reaped.
    await waitFor('network rm front to succeed', async () => (await suite.cluster.shoal('network', 'rm', 'front')).code === 0, CONVERGE_MS, POLL_MS);
    expect(await networkNames()).not.toContain('front');
  });
});

describe('published ports (the routing mesh)', () => {
  it('-p 8080:80 answers on every node’s address and reaches the replicas on both nodes', async () => {
    await create('pub', ['-p', '8080:80', '--replicas', '2', '--replicas-max-per-node', '1'], SERVER);
    const pub = await running('pub', 2);
    expect(pub.map(nodeOf).sort()).toEqual(['w1', 'w2']);

    for (const address of WORKER_ADDRESSES) {
      // From m1, a node with no task of the service, as a client outside the workers.
      const seen = new Set<string>();
      await waitFor(`${address}:8080 to reach both replicas`, async () => {
        const r = await runCommand('ip', ['netns', 'exec', `${NAME}-m1`, 'curl', '-s', '-m', '3', `http://${address}:8080/`]);
        if (r.code === 0) seen.add(r.stdout.trim());
        return sameSet([...seen], pub.map(hostnameOf));
      }, CONVERGE_MS, 50);
    }

    await suite.cluster.shoalOk('service', 'rm', 'pub');
  });
});

describe('host-mode published ports', () => {
  /** `curl` from m1, a node with no task, to a node's port: the hostname that answered, or undefined. */
  async function curlFromM1(address: string, port: number): Promise<string | undefined> {
    const r = await runCommand('ip', ['netns', 'exec', `${NAME}-m1`, 'curl', '-s', '-m', '3', `http://${address}:${port}/`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }
  const WORKER = { w1: WORKER_ADDRESSES[0]!, w2: WORKER_ADDRESSES[1]! } as Record<string, string>;

  it('mode=host answers only where a task runs, by that task; one task per node holds the port', async () => {
    // On no overlay network: the task's only interface is on its node's gateway bridge.
    await create('hostpub', ['--publish', 'mode=host,published=8081,target=80', '--replicas', '3'], SERVER);
    let tasks: NetTask[] = [];
    await waitFor('two tasks running and the third pending on the port', async () => {
      tasks = (await tasksOf('hostpub')).filter(isRunnable);
      const pending = tasks.filter((t) => t.status?.state === 'TASK_STATE_PENDING');
      return tasks.filter(isRunning).length === 2 && pending.length === 1 && (pending[0]!.status?.message ?? '').includes('host-mode port already in use on 2 nodes');
    }, CONVERGE_MS, POLL_MS);
    const up = tasks.filter(isRunning);
    expect(up.map(nodeOf).sort()).toEqual(['w1', 'w2']);

    for (const t of up) {
      // Each node's port is its own task, every time.
      await waitFor(`${nodeOf(t)}:8081 to answer`, async () => (await curlFromM1(WORKER[nodeOf(t)]!, 8081)) === hostnameOf(t), CONVERGE_MS, POLL_MS);
      for (let i = 0; i < 5; i++) expect(await curlFromM1(WORKER[nodeOf(t)]!, 8081)).toBe(hostnameOf(t));
    }
    // The manager runs no task: nothing answers there.
    expect(await curlFromM1('10.213.0.11', 8081)).toBeUndefined();

    // Down to one task: the node that lost its task stops answering.
    await suite.cluster.shoalOk('service', 'scale', '--detach', 'hostpub=1');
    const [left] = await running('hostpub', 1);
    const gone = nodeOf(left!) === 'w1' ? 'w2' : 'w1';
    await waitFor(`${gone}:8081 to stop answering`, async () => (await curlFromM1(WORKER[gone]!, 8081)) === undefined, CONVERGE_MS, POLL_MS);
    expect(await curlFromM1(WORKER[nodeOf(left!)]!, 8081)).toBe(hostnameOf(left!));

    await suite.cluster.shoalOk('service', 'rm', 'hostpub');
  });

  it('mode=host without a published port: each task gets one of 32768-60999 on its node, shown by service ps', async () => {
    // On an overlay network too: the gateway interface comes after eth0, and takes the default route.
    await suite.cluster.shoalOk('network', 'create', 'hostnet');
    await create('hostdyn', ['--network', 'hostnet', '--publish', 'mode=host,target=80', '--replicas', '2', '--replicas-max-per-node', '1'], SERVER);
    const tasks = await running('hostdyn', 2);
    for (const t of tasks) {
      const published = t.endpoint?.ports?.[0]?.publishedPort ?? 0;
      expect(published).toBeGreaterThanOrEqual(32768);
      expect(published).toBeLessThanOrEqual(60999);
      await waitFor(`${nodeOf(t)}:${published} to answer`, async () => (await curlFromM1(WORKER[nodeOf(t)]!, published)) === hostnameOf(t), CONVERGE_MS, POLL_MS);
    }
    const table = await suite.cluster.shoalOk('service', 'ps', 'hostdyn');
    expect(table).toMatch(/\*:3\d{4}->80\/tcp/);

    await suite.cluster.shoalOk('service', 'rm', 'hostdyn');
    await waitFor('network rm hostnet to succeed', async () => (await suite.cluster.shoal('network', 'rm', 'hostnet')).code === 0, CONVERGE_MS, POLL_MS);
  });
});

describe('egress', () => {
  it('a container on no network, and one on an overlay network, reach beyond the cluster through their node', async () => {
    // The cluster's registry, in the hub namespace, stands for the world outside the cluster: a
    // container has no interface of its own on the way there, only the gateway bridge and its
    // node's masquerade.
    await suite.cluster.shoalOk('network', 'create', 'out');
    await create('plain', ['--constraint', 'node.hostname==w1'], SLEEPER);
    await create('onnet', ['--network', 'out', '--constraint', 'node.hostname==w2'], SLEEPER);
    for (const t of [...(await running('plain', 1)), ...(await running('onnet', 1))]) {
      const route = await execIn(t, 'ip', 'route', 'show', 'default');
      expect(route.stdout).toMatch(/^default via 172\.30\.0\.1 dev eth\d/);
      const r = await execIn(t, 'sh', '-c', 'timeout 5 wget -q -O- http://10.213.0.1:5000/v2/');
      expect(r.code, `${nodeOf(t)}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe('{}');
    }
    await suite.cluster.shoalOk('service', 'rm', 'plain', 'onnet');
    await waitFor('network rm out to succeed', async () => (await suite.cluster.shoal('network', 'rm', 'out')).code === 0, CONVERGE_MS, POLL_MS);
  });
});

/**
 * A fake nameserver (src/network/dns/testing/fake-upstream-main.ts) in the cluster's hub namespace
 * at UPSTREAM, knowing `records`: it stands for the nodes' own resolvers, inside the namespaces
 * the cluster made, so that no query leaves them. `asked` lists the names it was asked.
 */
async function hubNameserver(records: Record<string, string>): Promise<{ asked: () => string[]; stop: () => Promise<void> }> {
  const main = join(REPO_ROOT, 'dist', 'src', 'network', 'dns', 'testing', 'fake-upstream-main.js');
  const pairs = Object.entries(records).map(([name, address]) => `${name}=${address}`);
  const child = spawn('ip', ['netns', 'exec', `${NAME}-hub`, process.execPath, main, UPSTREAM, ...pairs], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor('the hub nameserver to listen', () => {
    if (child.exitCode !== null) throw new Error(`the hub nameserver exited: ${output}`);
    return output.includes(`listening ${UPSTREAM}`);
  }, 10_000, 50);
  return {
    asked: () => [...output.matchAll(/^asked (\S+)$/gm)].map((m) => m[1]!),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('names outside the cluster', () => {
  it('are forwarded to the nodes\' nameservers, from a container on no network and one on an overlay network; the cluster\'s names are not', async () => {
    const upstream = await hubNameserver({ 'outside.example': '192.0.2.44' });
    try {
      await suite.cluster.shoalOk('network', 'create', 'dnsnet');
      // Both on w2, so that w2's resolver knows dnsnet's services (a node knows those of the networks it is part of).
      await create('dnsplain', ['--constraint', 'node.hostname==w2'], SLEEPER);
      await create('dnsonnet', ['--network', 'dnsnet', '--constraint', 'node.hostname==w2'], SLEEPER);
      const [plain] = await running('dnsplain', 1);
      const [onNet] = await running('dnsonnet', 1);
      for (const t of [plain!, onNet!]) {
        const outside = await lookup(t, 'outside.example');
        expect(outside.addresses, `${nodeOf(t)}: ${outside.output}`).toEqual(['192.0.2.44']);
      }
      // A service the node knows, on a network the asking container is not on: not found, and not asked outside.
      expect((await lookup(onNet!, 'dnsonnet')).code).toBe(0);
      expect((await lookup(plain!, 'dnsonnet')).output).toContain('NXDOMAIN');
      expect(new Set(upstream.asked())).toEqual(new Set(['outside.example']));
    } finally {
      await upstream.stop();
    }
    await suite.cluster.shoalOk('service', 'rm', 'dnsplain', 'dnsonnet');
    await waitFor('network rm dnsnet to succeed', async () => (await suite.cluster.shoal('network', 'rm', 'dnsnet')).code === 0, CONVERGE_MS, POLL_MS);
  });
});

describe('isolation between networks', () => {
  it('a container on network a neither resolves nor reaches the containers of network b', async () => {
    await suite.cluster.shoalOk('network', 'create', 'a');
    await suite.cluster.shoalOk('network', 'create', 'b');
    await create('sa', ['--network', 'a', '--constraint', 'node.hostname==w1'], SERVER);
    await create('sb', ['--network', 'b', '--replicas', '2', '--replicas-max-per-node', '1'], SERVER);
    const [sa] = await running('sa', 1);
    const sb = await running('sb', 2);
    const request = (address: string): string[] => ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${address} 80`];

    // The same requests work within b (so b's addresses do answer), once its peers are in place.
    for (const [from, to] of [[sb[0]!, sb[1]!], [sb[1]!, sb[0]!]] as const) {
      await waitFor(`${hostnameOf(from)} to reach ${hostnameOf(to)} on b`, async () => (await execIn(from, ...request(addressOf(to)))).stdout.includes(hostnameOf(to)), CONVERGE_MS, POLL_MS);
    }
    await waitFor('sa to resolve sa', async () => (await lookup(sa!, 'sa')).code === 0, CONVERGE_MS, POLL_MS);

    const named = await lookup(sa!, 'sb');
    expect(named.code).not.toBe(0);
    expect(named.output).toContain('NXDOMAIN');
    expect((await lookup(sa!, 'tasks.sb')).output).toContain('NXDOMAIN');
    for (const t of sb) {
      const r = await execIn(sa!, ...request(addressOf(t)));
      expect(r.code, `sa -> ${nodeOf(t)}'s sb at ${addressOf(t)}: ${r.stdout}`).not.toBe(0);
      expect(r.stdout).not.toContain(hostnameOf(t));
      expect((await execIn(sa!, 'ping', '-c', '1', '-W', '1', addressOf(t))).code).not.toBe(0);
    }

    await suite.cluster.shoalOk('service', 'rm', 'sa', 'sb');
    for (const network of ['a', 'b']) {
      await waitFor(`network rm ${network} to succeed`, async () => (await suite.cluster.shoal('network', 'rm', network)).code === 0, CONVERGE_MS, POLL_MS);
    }
  });
});

describe('down', () => {
  it('leaves none of the cluster’s namespaces, nor its workers’ overlay sandboxes', async () => {
    const workerIds = [...hostnames].filter(([, host]) => host.startsWith('w')).map(([id]) => id);
    expect(workerIds).toHaveLength(2);
    const sandboxesOf = (id: string): string[] =>
      (existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter((n) => n.startsWith(`shoal-${id.slice(0, 8)}-`));
    // Down with a network in use on both workers, so that there are sandboxes to remove.
    await suite.cluster.shoalOk('network', 'create', 'last');
    await create('last', ['--network', 'last', '--replicas', '2', '--replicas-max-per-node', '1'], SLEEPER);
    await running('last', 2);
    await waitFor('both workers to have a sandbox', () => workerIds.every((id) => sandboxesOf(id).length > 0), CONVERGE_MS, POLL_MS);

    await suite.cluster.down();
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    expect(netns.filter((n) => n.startsWith(`${NAME}-`))).toEqual([]);
    expect(workerIds.flatMap(sandboxesOf)).toEqual([]);
    expect(existsSync(`/run/shoal-local/${NAME}`)).toBe(false);
  });
});
