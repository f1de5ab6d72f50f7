/**
 * The built `shoal` command (dist/cmd/shoal.js, as `make test` builds it) against a fake manager
 * (testing/fake-control.ts) serving the real Control gRPC service on a unix socket: output
 * formats, progress, messages and exit codes as a user sees them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { LogStream, type LogMessage } from '../../proto/gen/logs.js';
import { NodeRole, Task, TaskState } from '../../proto/gen/objects.js';
import { cliRunner } from './testing/cli-runner.js';
import { FakeControl } from './testing/fake-control.js';


const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
const socket = join(dir, 'control.sock');
const host = `unix://${socket}`;
const fake = new FakeControl();

const shoal = cliRunner(socket);

beforeAll(() => fake.listen(socket));
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('shoal service', () => {
  it('create prints the id, follows progress until converged and exits 0', async () => {
    const r = await shoal('service', 'create', '--name', 'web', '--replicas', '2', '--update-monitor', '0s', '-e', 'A=1', 'nginx:1', 'nginx', '-g', 'daemon off;');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^svc0+\d+$/);
    expect(lines).toContain('overall progress: 0 out of 2 tasks');
    expect(lines).toContain('overall progress: 2 out of 2 tasks');
    expect(lines.some((l) => /^1\/2: running +\[=+>\]$/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('verify: Service converged');
    const stored = [...fake.services.values()].find((s) => s.spec?.annotations?.name === 'web')!;
    expect(stored.spec?.task?.container?.args).toEqual(['nginx', '-g', 'daemon off;']);
  });

  it('create --detach returns at once; -q prints only the id', async () => {
    const r = await shoal('service', 'create', '-d', '-q', '--name', 'api', '--mode', 'global', 'api:1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^svc0+\d+\n$/);
  });

  it('ls prints an aligned table, JSON, or ids', async () => {
    const table = await shoal('service', 'ls');
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID {13}NAME {3}MODE {9}REPLICAS {3}IMAGE {5}PORTS$/);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^svc0+\d+ {3}web {4}replicated {3}2\/2 {8}nginx:1$/);

    const json = await shoal('service', 'ls', '--format', 'json');
    const services = JSON.parse(json.stdout) as { spec: { annotations: { name: string } } }[];
    expect(services.map((s) => s.spec.annotations.name)).toEqual(['api', 'web']);

    const quiet = await shoal('service', 'ls', '-q');
    expect(quiet.stdout.trimEnd().split('\n')).toHaveLength(2);

    const bad = await shoal('service', 'ls', '--format', 'yaml');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`shoal service ls: invalid --format "yaml": use table or json (see 'shoal service ls --help')\n`);
  });

  it('ps lists tasks with node, states and ages; filters and -q work', async () => {
    const r = await shoal('service', 'ps', 'web');
    expect(r.code).toBe(0);
    const [header, first] = r.stdout.split('\n');
    expect(header).toMatch(/^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/);
    expect(first).toMatch(/^task\S{8} +web\.1 +nginx:1 +m1 +Running +Running (Less than a second|\d+ seconds?) ago$/);

    const byName = await shoal('service', 'ps', '--filter', 'name=web.2', 'web');
    expect(byName.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/ {3,}/)[1])).toEqual(['web.2']);

    const quiet = await shoal('service', 'ps', '-q', '--filter', 'desired-state=running', 'web');
    expect(quiet.stdout.trimEnd().split('\n')).toHaveLength(2);

    const bad = await shoal('service', 'ps', '--filter', 'colour=blue', 'web');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^shoal service ps: invalid filter "colour=blue"/);
  });

  it('inspect prints JSON by default, a readable form with --pretty, and names what is missing', async () => {
    const json = await shoal('service', 'inspect', 'web');
    expect(json.code).toBe(0);
    // Protobuf's JSON mapping: a oneof member appears as a field of its own.
    const [svc] = JSON.parse(json.stdout) as { spec: { replicated: unknown } }[];
    expect(svc!.spec.replicated).toEqual({ replicas: 2 });

    const pretty = await shoal('service', 'inspect', '--pretty', 'web');
    expect(pretty.stdout).toMatch(/^ID: +svc/);
    expect(pretty.stdout).toContain('\nName:               web\n');
    expect(pretty.stdout).toContain('\n Replicas:          2\n');

    const missing = await shoal('service', 'inspect', 'web', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('shoal: service nope not found\n');
    expect(JSON.parse(missing.stdout)).toHaveLength(1);
  });

  it('update changes the spec read, shows progress and exits 0 when the update completes', async () => {
    const r = await shoal('service', 'update', '--image', 'nginx:2', '--env-add', 'B=2', 'web');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('web\n')).toBe(true);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('verify: Service converged');
    const stored = [...fake.services.values()].find((s) => s.spec?.annotations?.name === 'web')!;
    expect(stored.spec?.task?.container?.image).toBe('nginx:2');
    expect(stored.spec?.task?.container?.env).toEqual(['A=1', 'B=2']);
  });

  it('a paused update is reported with the manager message and exit 1', async () => {
    fake.nextUpdate = 'pause';
    const r = await shoal('service', 'update', '--image', 'nginx:3', 'web');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^shoal: service update paused: update paused due to failure or early termination of task task\d+\n$/);
  });

  it('an automatic rollback is followed to its end and reported with exit 1', async () => {
    fake.nextUpdate = 'rollback';
    const r = await shoal('service', 'update', '--image', 'nginx:4', 'web');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/rollback: update rolled back due to failure/);
    expect(r.stdout).toContain('overall progress: rolling back update: ');
    expect(r.stderr).toMatch(/^shoal: service rolled back: update rolled back due to failure or early termination of task task\d+\n$/);
  });

  it('rollback by hand succeeds once the previous spec runs again', async () => {
    const r = await shoal('service', 'rollback', 'web');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rollback: manually requested rollback\n');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('verify: Service converged');
  });

  it('scale sets replicas and waits; a global service cannot be scaled', async () => {
    const r = await shoal('service', 'scale', 'web=3');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('web scaled to 3\nweb\n')).toBe(true);
    expect(r.stdout).toContain('overall progress: 3 out of 3 tasks');

    const global = await shoal('service', 'scale', '-d', 'api=2');
    expect(global.code).toBe(1);
    expect(global.stderr).toBe('shoal: scale can only be used with replicated mode (service api is global)\n');

    const bad = await shoal('service', 'scale', 'web');
    expect(bad.code).toBe(2);
  });

  it('refuses a bad command line with exit 2 before calling the manager', async () => {
    const noImage = await shoal('service', 'create', '--name', 'x');
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toBe("shoal service create: requires at least 1 argument, got 0 (see 'shoal service create --help')\n");
    const badDelay = await shoal('service', 'update', '--update-delay', '10', 'web');
    expect(badDelay.code).toBe(2);
    expect(badDelay.stderr).toMatch(/invalid value "10" for --update-delay: invalid duration "10"/);
    const unknown = await shoal('service', 'frob');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("shoal: unknown command 'service frob'; see 'shoal service --help'\n");
  });

  it('rm removes each service named and reports the ones it cannot find', async () => {
    const r = await shoal('service', 'rm', 'api', 'nope');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('api\n');
    expect(r.stderr).toBe('shoal: service nope not found\n');
  });
});

describe('shoal service logs', () => {
  const w1 = 'workernode000000000000002';
  const line = (taskId: string, time: string, text: string): LogMessage => {
    const web = [...fake.services.values()].find((s) => s.spec?.annotations?.name === 'web')!;
    return { taskId, serviceId: web.meta!.id, nodeId: w1, slot: 1, time, stream: LogStream.LOG_STREAM_STDOUT, data: Buffer.from(`${text}\n`) };
  };

  it('prints each line with docker\'s prefix, the node\'s warnings on stderr', async () => {
    fake.logMessages.push({ messages: [line('taskweb000000000000000001', '2026-11-28T10:00:00.000000001Z', 'hello')], warnings: ['error from node w2: node is down'] });
    const r = await shoal('service', 'logs', 'web');
    fake.logMessages.length = 0;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('web.1.taskweb00000@w1    | hello\n');
    expect(r.stderr).toBe('error from node w2: node is down\n');
  });

  it('-f goes on across a change of leader: the stream is opened again where it stopped, no line twice or lost', async () => {
    const t = 'taskweb000000000000000001';
    fake.logRequests.length = 0;
    fake.logSessions.push(
      (call) => {
        call.write({ messages: [line(t, '2026-11-28T10:00:01.000000001Z', 'one'), line(t, '2026-11-28T10:00:02.000000002Z', 'two')], warnings: [] });
        // As the old leader's broker ends its subscriptions.
        setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'the leader changed while following the logs; run the command again' }), 50);
      },
      // No leader yet: refused, tried again.
      (call) => call.emit('error', { code: status.UNAVAILABLE, details: 'no leader elected; try again' }),
      (call) => {
        // The new leader's stream repeats the newest nanosecond (since includes it), then goes on.
        call.write({ messages: [line(t, '2026-11-28T10:00:02.000000002Z', 'two'), line(t, '2026-11-28T10:00:02.000000002Z', 'two-bis'), line(t, '2026-11-28T10:00:03Z', 'three')], warnings: [] });
        call.end();
      },
    );
    const r = await shoal('service', 'logs', '-f', '--tail', '1', 'web');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('| ')[1])).toEqual(['one', 'two', 'two-bis', 'three']);
    expect(fake.logRequests.map((q) => [q.options?.tail, q.options?.since])).toEqual([
      [1, ''],
      [-1, '2026-11-28T10:00:02.000000002Z'],
      [-1, '2026-11-28T10:00:02.000000002Z'],
    ]);
  });

  it('without -f, a broken stream is an error', async () => {
    fake.logSessions.push((call) => call.emit('error', { code: status.UNAVAILABLE, details: 'no leader elected; try again' }));
    const r = await shoal('service', 'logs', 'web');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no leader elected; try again');
  });
});

describe('shoal node ps and shoal task', () => {
  const w1 = 'workernode000000000000002';
  const ago = (seconds: number) => Date.now() - seconds * 1000;
  // Built when the block starts, so that the ages shown are seconds.
  beforeAll(() => {
    // A slot of another service on w1: the task that failed, and the one that replaced it.
    const failed = Task.fromPartial({
      meta: { id: 'taskonw1failed00000000001', createdAt: ago(60), updatedAt: ago(2) },
      serviceId: 'svcdb0000000000000000000x',
      slot: 1,
      nodeId: w1,
      spec: { container: { image: 'postgres:16' } },
      specVersion: 1,
      serviceAnnotations: { name: 'db' },
      desiredState: TaskState.TASK_STATE_SHUTDOWN,
      status: { state: TaskState.TASK_STATE_FAILED, timestamp: ago(2), err: 'task failed: exit code 137 (out of memory)', exitCode: 137, containerId: 'c0ffee', pid: 0 },
    });
    const replacement = Task.fromPartial({
      ...failed,
      meta: { id: 'taskonw1preparing00000002', createdAt: ago(1), updatedAt: ago(1) },
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: { state: TaskState.TASK_STATE_PREPARING, timestamp: ago(1), message: 'pulling postgres:16' },
    });
    // Scaled away before it was placed: on no node.
    const unplaced = Task.fromPartial({
      ...failed,
      meta: { id: 'taskunplaced0000000000003', createdAt: ago(30) },
      slot: 2,
      nodeId: '',
      status: { state: TaskState.TASK_STATE_PENDING, timestamp: ago(30), message: 'no suitable node (1 node not available)' },
    });
    fake.tasks.push(failed, replacement, unplaced);
  });

  it('node ps NODE lists the tasks on that node, newest of a slot first, history indented', async () => {
    const r = await shoal('node', 'ps', 'w1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/);
    expect(lines.slice(1)).toHaveLength(2);
    expect(lines[1]).toMatch(/^taskonw1prep {3}db\.1 {7}postgres:16 {3}w1 {5}Running {9}Preparing \d+ seconds? ago$/);
    expect(lines[2]).toMatch(/^taskonw1fail {4}\\_ db\.1 {3}postgres:16 {3}w1 {5}Shutdown {8}Failed \d+ seconds ago +"task failed: exit code 137 \(o…"$/);
  });

  it('node ps without a node lists every node\'s tasks but not the unplaced; filters, -q and --no-trunc work', async () => {
    const all = await shoal('node', 'ps');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/\n\S+ +web\.1 +nginx:\d +m1 /);
    expect(all.stdout).toContain('taskonw1prep');
    expect(all.stdout).not.toContain('taskunplaced');

    const quiet = await shoal('node', 'ps', '-q', '--filter', 'desired-state=shutdown', 'w1');
    expect(quiet.stdout).toBe('taskonw1failed00000000001\n');

    const whole = await shoal('node', 'ps', '--no-trunc', '-f', 'id=taskonw1failed', 'w1');
    expect(whole.stdout).toContain('taskonw1failed00000000001');
    expect(whole.stdout).toContain('"task failed: exit code 137 (out of memory)"');

    const json = JSON.parse((await shoal('node', 'ps', '--format', 'json', 'w1')).stdout) as { id?: string; meta: { id: string } }[];
    expect(json.map((t) => t.meta.id).sort()).toEqual(['taskonw1failed00000000001', 'taskonw1preparing00000002']);

    const bad = await shoal('node', 'ps', '-f', 'node=w1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^shoal node ps: invalid filter "node=w1": the filters are desired-state, id, name /);
  });

  it('node ps names the nodes it cannot find, lists the others, and exits 1', async () => {
    const some = await shoal('node', 'ps', 'nosuch', 'w1');
    expect(some.code).toBe(1);
    expect(some.stderr).toBe('shoal: node nosuch not found\n');
    expect(some.stdout).toContain('taskonw1prep');
    const none = await shoal('node', 'ps', 'nosuch');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
  });

  it('task inspect prints the tasks as JSON, by id, id prefix or name', async () => {
    const r = await shoal('task', 'inspect', 'taskonw1failed00000000001', 'taskonw1prep', 'web.1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tasks = JSON.parse(r.stdout) as { meta: { id: string }; slot?: number; desiredState: string; status: { state: string; err?: string; exitCode?: number } }[];
    expect(tasks.map((t) => t.meta.id).slice(0, 2)).toEqual(['taskonw1failed00000000001', 'taskonw1preparing00000002']);
    expect(tasks[0]!.status).toMatchObject({ state: 'TASK_STATE_FAILED', err: 'task failed: exit code 137 (out of memory)', exitCode: 137 });
    // A name stands for the newest task of the slot: the one service ps lists first.
    const newestWeb1 = fake.tasks.filter((t) => t.serviceAnnotations?.name === 'web' && t.slot === 1).sort((a, b) => b.meta!.createdAt - a.meta!.createdAt)[0]!;
    expect(tasks[2]!.meta.id).toBe(newestWeb1.meta!.id);
    expect((await shoal('task', 'inspect', '--format', 'json', 'taskunplaced')).code).toBe(0);
  });

  it('task inspect --pretty gives the readable form with the node\'s hostname', async () => {
    const r = await shoal('task', 'inspect', '--pretty', 'taskonw1failed');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Name:               db.1\n');
    expect(r.stdout).toContain(`Node:               w1 (${w1})\n`);
    expect(r.stdout).toMatch(/\n State: +Failed\n Since: +\S+Z \(\d+ seconds ago\)\n/);
    expect(r.stdout).toContain(' Exit Code:         137\n');
    expect(r.stdout).toContain(' Image:             postgres:16\n');
  });

  it('task inspect names what it cannot find and refuses bad output flags', async () => {
    const missing = await shoal('task', 'inspect', 'taskonw1failed', 'nosuch', 'web.99');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('shoal: task nosuch not found\nshoal: task web.99 not found\n');
    expect(JSON.parse(missing.stdout)).toHaveLength(1);
    const yaml = await shoal('task', 'inspect', '--format', 'yaml', 'taskonw1failed');
    expect(yaml.code).toBe(2);
    const both = await shoal('task', 'inspect', '--pretty', '--format', 'json', 'taskonw1failed');
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("shoal task inspect: --pretty and --format cannot be used together (see 'shoal task inspect --help')\n");
  });

  it('task ls lists every task, placed or not, with the service and node filters', async () => {
    const all = await shoal('task', 'ls');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('taskunplaced');
    expect(all.stdout).toContain('taskonw1prep');
    const web = await shoal('task', 'ls', '-q', '-f', 'service=web', '-f', 'desired-state=running');
    expect(web.stdout.trimEnd().split('\n')).toHaveLength(3);
    const onW1 = await shoal('task', 'ls', '-q', '-f', 'node=w1');
    expect(onW1.stdout.trimEnd().split('\n').sort()).toEqual(['taskonw1failed00000000001', 'taskonw1preparing00000002']);
  });
});

describe('shoal node and cluster', () => {
  it('node ls shows hostname, status, availability and manager status', async () => {
    const r = await shoal('node', 'ls');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'ID             HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS',
      'managernode0   m1         Ready    Active         Leader',
      'workernode00   w1         Down     Active',
      '',
    ]);
  });

  it('node update changes availability and labels by read-modify-write', async () => {
    const r = await shoal('node', 'update', '--availability', 'drain', '--label-add', 'ssd=true', '--label-rm', 'zone', 'w1');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('w1\n');
    const inspect = JSON.parse((await shoal('node', 'inspect', 'w1')).stdout) as { spec: unknown }[];
    expect(inspect[0]!.spec).toEqual({ annotations: { labels: { ssd: 'true' } }, availability: 'NODE_AVAILABILITY_DRAIN' });
    const nothing = await shoal('node', 'update', 'w1');
    expect(nothing.code).toBe(2);
  });

  it('node inspect --pretty shows the manager status', async () => {
    const r = await shoal('node', 'inspect', '--pretty', 'm1');
    expect(r.stdout).toContain('Manager Status:');
    expect(r.stdout).toContain(' Leader:            Yes\n');
  });

  it('node promote and demote set the desired role, say when there is nothing to do, and relay refusals', async () => {
    const promoted = await shoal('node', 'promote', 'w1');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toBe('Node w1 promoted to a manager in the cluster.\n');
    expect(fake.nodes.find((n) => n.description?.hostname === 'w1')!.spec?.desiredRole).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect((await shoal('node', 'promote', 'w1')).stdout).toBe('Node w1 is already a manager.\n');

    const demoted = await shoal('node', 'demote', 'w1', 'm1', 'nosuch');
    expect(demoted.code).toBe(1);
    expect(demoted.stdout).toBe('Manager w1 demoted in the cluster.\n');
    expect(demoted.stderr).toBe('shoal: node m1 cannot be demoted: it is the last manager of the cluster\nshoal: node nosuch not found\n');
    expect(fake.nodes.find((n) => n.description?.hostname === 'w1')!.spec?.desiredRole).toBe(NodeRole.NODE_ROLE_WORKER);
    expect((await shoal('node', 'demote', 'w1')).stdout).toBe('Node w1 is already a worker.\n');
    expect((await shoal('node', 'promote')).code).toBe(2);
  });

  it('node rm refuses a live node without --force and removes a down one', async () => {
    const live = await shoal('node', 'rm', 'm1');
    expect(live.code).toBe(1);
    expect(live.stderr).toBe("shoal: node m1 is not down and can't be removed (use --force)\n");
    const down = await shoal('node', 'rm', 'w1');
    expect(down.code).toBe(0);
  });

  it('cluster info shows the Raft view and counts, also as JSON', async () => {
    const r = await shoal('cluster', 'info');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Cluster ID: cluster0000000000000000001\n');
    expect(r.stdout).toContain(' Term: 2\n');
    expect(r.stdout).toContain('Managers: 1\n');
    expect(r.stdout).toMatch(/\n RAFT ID +ADDRESS +LEADER +SUFFRAGE +REACHABILITY\n managernode00000000000001 +127\.0\.0\.1:4242 +yes +voter +reachable\n/);
    expect(r.stdout).toContain('Heartbeat period: 5s\n');
    const json = JSON.parse((await shoal('cluster', 'info', '--format', 'json')).stdout) as { raftTerm: number; nodes: number };
    expect(json.raftTerm).toBe(2);
    expect(json.nodes).toBe(1);
  });
});

describe('shoal cluster join-token', () => {
  it('prints the command that adds a worker or a manager, or only the token with -q', async () => {
    const worker = await shoal('cluster', 'join-token', 'worker');
    expect(worker.code).toBe(0);
    expect(worker.stdout).toBe(
      'To add a worker to this cluster, run the following command:\n\n    shoal worker --join 127.0.0.1:4242 --token SHTKN-1-fakedigest-worker0 --state-dir DIR\n',
    );
    const manager = await shoal('cluster', 'join-token', '-q', 'manager');
    expect(manager.stdout).toBe('SHTKN-1-fakedigest-manager0\n');
  });

  it('--rotate replaces the token and says so', async () => {
    const before = fake.joinTokens.worker;
    const r = await shoal('cluster', 'join-token', '--rotate', 'worker');
    expect(r.code).toBe(0);
    expect(fake.joinTokens.worker).not.toBe(before);
    expect(r.stdout).toBe(
      `Successfully rotated worker join token.\n\nTo add a worker to this cluster, run the following command:\n\n    shoal worker --join 127.0.0.1:4242 --token ${fake.joinTokens.worker} --state-dir DIR\n`,
    );
    expect(fake.joinTokens.manager).toBe('SHTKN-1-fakedigest-manager0');
  });

  it('refuses a role that is neither worker nor manager, exit 2', async () => {
    const r = await shoal('cluster', 'join-token', 'admin');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`shoal cluster join-token: unknown role "admin": use worker or manager (see 'shoal cluster join-token --help')\n`);
  });
});

describe('shoal stack', () => {
  const file = join(dir, 'stack.yml');
  const stackFile = (image: string) =>
    `services:\n  front:\n    image: ${image}\n    deploy:\n      replicas: 2\n  back:\n    image: back:1\n    command: serve --port 80\n`;

  it('deploy creates the services, then changes only what changed', async () => {
    writeFileSync(file, stackFile('front:1'));
    const first = await shoal('stack', 'deploy', '-c', file, 'shop');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('Creating network shop_default\nCreating service shop_front\nCreating service shop_back\n');

    const versions = () => [...fake.services.values()].map((s) => s.meta!.version).join(',');
    const before = versions();
    const again = await shoal('stack', 'deploy', '-c', file, 'shop');
    expect(again.stdout).toBe('Service shop_front is unchanged\nService shop_back is unchanged\n');
    expect(versions()).toBe(before);

    // A forced update is not undone by the next deploy.
    expect((await shoal('service', 'update', '--force', '-d', 'shop_back')).code).toBe(0);
    writeFileSync(file, stackFile('front:2'));
    const changed = await shoal('stack', 'deploy', '-c', file, 'shop');
    expect(changed.stdout).toMatch(/^Updating service shop_front \(id: svc\d+\)\nService shop_back is unchanged\n$/);
  });

  it('ls, services and ps show the stack', async () => {
    expect((await shoal('stack', 'ls')).stdout).toBe('NAME   SERVICES\nshop   2\n');
    const services = await shoal('stack', 'services', 'shop');
    expect(services.stdout).toMatch(/shop_back +replicated/);
    const ps = await shoal('stack', 'ps', 'shop');
    expect(ps.stdout).toMatch(/shop_front\.2 +front:2/);
    const none = await shoal('stack', 'ps', 'nothing');
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('shoal: nothing found in stack: nothing\n');
  });

  it('deploy of a file with an unsupported key deploys nothing and names the key', async () => {
    writeFileSync(file, 'services:\n  one:\n    image: one:1\n  two:\n    image: two:1\n    volumes: ["/data:/data"]\n');
    const r = await shoal('stack', 'deploy', '-c', file, 'other');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`shoal: stack file ${file}: services.two.volumes: not supported by shoal\n`);
    expect([...fake.services.values()].some((s) => s.spec?.annotations?.name.startsWith('other_'))).toBe(false);
  });

  it('deploy --prune removes services the file no longer names; rm removes the stack', async () => {
    writeFileSync(file, stackFile('front:2').split('  back:')[0]!);
    const pruned = await shoal('stack', 'deploy', '--prune', '-c', file, 'shop');
    expect(pruned.stdout).toBe('Service shop_front is unchanged\nRemoving service shop_back\n');
    const rm = await shoal('stack', 'rm', 'shop');
    expect(rm.stdout).toBe('Removing service shop_front\nRemoving network shop_default\n');
    const again = await shoal('stack', 'rm', 'shop');
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('Nothing found in stack: shop\n');
  });
});

describe('shoal connection', () => {
  it('says in one line that the manager cannot be reached, exit 1', async () => {
    const r = await shoal('--host', `unix://${dir}/absent.sock`, 'service', 'ls');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`shoal: cannot reach the manager at unix://${dir}/absent.sock: connect ENOENT ${dir}/absent.sock\n`);
  });

  it('takes a comma-separated list of managers and uses the first one it can reach', async () => {
    const r = await shoal('--host', `unix://${dir}/absent.sock,${host}`, 'service', 'ls', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('names every manager of the list when none can be reached', async () => {
    const r = await shoal('--host', `unix://${dir}/a.sock, unix://${dir}/b.sock`, 'service', 'ls');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`shoal: cannot reach any manager: unix://${dir}/a.sock: connect ENOENT ${dir}/a.sock; unix://${dir}/b.sock: connect ENOENT ${dir}/b.sock\n`);
  });

  it('refuses a host it cannot use with exit 2', async () => {
    const r = await shoal('node', 'ls', '-H', 'http://m1:80');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`shoal node ls: invalid host "http://m1:80": use unix:///path/to.sock or tcp://host:port (see 'shoal node ls --help')\n`);
  });
});
