import { describe, expect, it } from 'vitest';
import {
  EndpointMode,
  PortProtocol,
  PublishMode,
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
} from '../../proto/gen/objects.js';
import { CliError, UsageError } from './errors.js';
import { networkRefs } from './endpoint-options.js';
import { parseArgs } from './flags.js';
import { applyUpdateFlags, serviceCreateFlags, serviceUpdateFlags, specFromCreateFlags } from './service-options.js';

const env = { FROM_SHELL: 'shell-value' };
/** What the command would have resolved: network names and ids to ids. */
const networkIds = new Map([['front', 'netfront'], ['back', 'netback'], ['netfront', 'netfront']]);

function create(...argv: string[]): ServiceSpec {
  const { flags, args } = parseArgs(serviceCreateFlags, argv, { stopAtFirstPositional: true });
  return specFromCreateFlags(flags, args, env, () => 'abc123', networkIds);
}

function update(spec: ServiceSpec, ...argv: string[]): ServiceSpec {
  return applyUpdateFlags(spec, parseArgs(serviceUpdateFlags, argv).flags, env, networkIds);
}

describe('service create flags', () => {
  it('builds a minimal replicated spec and leaves the rest to the manager defaults', () => {
    const spec = create('--name', 'web', 'nginx:1.25');
    expect(spec.annotations).toEqual({ name: 'web', labels: {} });
    expect(spec.mode).toEqual({ $case: 'replicated', replicated: { replicas: 1 } });
    expect(spec.task?.container?.image).toBe('nginx:1.25');
    expect(spec.task?.container?.args).toEqual([]);
    expect(spec.task?.restart).toBeUndefined();
    expect(spec.task?.resources).toBeUndefined();
    expect(spec.update).toBeUndefined();
    expect(spec.rollback).toBeUndefined();
  });

  it('names an unnamed service after its image', () => {
    expect(create('registry.local:5000/team/api:2@sha256:' + 'a'.repeat(64)).annotations?.name).toBe('api-abc123');
  });

  it('passes the command and its arguments through untouched', () => {
    expect(create('--name', 'w', 'busybox', 'sh', '-c', 'sleep 1; echo --name').task?.container?.args).toEqual(['sh', '-c', 'sleep 1; echo --name']);
  });

  it('sets every part the flags name', () => {
    const spec = create(
      '--name', 'api', '--replicas', '4', '-e', 'A=1', '-e', 'FROM_SHELL', '-w', '/srv', '-u', '1000:1000', '--hostname', 'h1',
      '-l', 'tier=front', '-l', 'flag', '--container-label', 'c=1',
      '--health-cmd', 'curl -f localhost', '--health-interval', '5s', '--health-timeout', '2s', '--health-retries', '3', '--health-start-period', '1m',
      '--stop-signal', 'SIGINT', '--stop-grace-period', '30s',
      '--limit-cpu', '1.5', '--limit-memory', '1g', '--reserve-cpu', '0.25', '--reserve-memory', '256m',
      '--restart-condition', 'on-failure', '--restart-delay', '1s', '--restart-max-attempts', '3', '--restart-window', '2m',
      '--constraint', 'node.role==worker', '--constraint', 'node.labels.zone!=b', '--placement-pref', 'spread=node.labels.zone', '--replicas-max-per-node', '2',
      '--update-parallelism', '2', '--update-delay', '10s', '--update-failure-action', 'rollback', '--update-monitor', '3s',
      '--update-max-failure-ratio', '0.25', '--update-order', 'start-first',
      '--rollback-parallelism', '0', '--rollback-failure-action', 'continue',
      'api:2', 'serve', '--port', '80',
    );
    expect(spec.annotations).toEqual({ name: 'api', labels: { tier: 'front', flag: '' } });
    expect(spec.mode).toEqual({ $case: 'replicated', replicated: { replicas: 4 } });
    expect(spec.task?.container).toEqual({
      image: 'api:2',
      command: [],
      args: ['serve', '--port', '80'],
      env: ['A=1', 'FROM_SHELL=shell-value'],
      dir: '/srv',
      user: '1000:1000',
      hostname: 'h1',
      labels: { c: '1' },
      healthcheck: { test: ['CMD-SHELL', 'curl -f localhost'], intervalMs: 5000, timeoutMs: 2000, retries: 3, startPeriodMs: 60_000 },
      stopSignal: 'SIGINT',
      stopGracePeriodMs: 30_000,
    });
    expect(spec.task?.resources).toEqual({
      limits: { nanoCpus: 1_500_000_000, memoryBytes: 1024 ** 3 },
      reservations: { nanoCpus: 250_000_000, memoryBytes: 256 * 1024 ** 2 },
    });
    expect(spec.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 1000, maxAttempts: 3, windowMs: 120_000 });
    expect(spec.task?.placement).toEqual({
      constraints: ['node.role==worker', 'node.labels.zone!=b'],
      preferences: [{ spread: 'node.labels.zone' }],
      maxReplicas: 2,
    });
    expect(spec.update).toEqual({
      parallelism: 2,
      delayMs: 10_000,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
      monitorMs: 3000,
      maxFailureRatio: 0.25,
      order: UpdateOrder.UPDATE_ORDER_START_FIRST,
    });
    // Unnamed parts of a touched config take docker's defaults.
    expect(spec.rollback).toEqual({
      parallelism: 0,
      delayMs: 0,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
      monitorMs: 5000,
      maxFailureRatio: 0,
      order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
    });
  });

  it('makes a global service', () => {
    expect(create('--name', 'agent', '--mode', 'global', 'agent:1').mode).toEqual({ $case: 'global', global: {} });
  });

  it('disables the healthcheck with --no-healthcheck', () => {
    expect(create('--name', 'w', '--no-healthcheck', 'x').task?.container?.healthcheck?.test).toEqual(['NONE']);
  });

  it('names the flag in every refusal', () => {
    const refusal = (...argv: string[]) => {
      try {
        create('--name', 'w', ...argv, 'img');
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refusal('--mode', 'both')).toBe('invalid value "both" for --mode: use replicated or global');
    expect(refusal('--mode', 'global', '--replicas', '2')).toBe('--replicas can only be used with replicated mode');
    expect(refusal('--replicas', 'three')).toBe('invalid value "three" for --replicas: use a whole number, 0 or more');
    expect(refusal('--update-delay', '10')).toMatch(/^invalid value "10" for --update-delay: invalid duration "10"/);
    expect(refusal('--limit-memory', 'lots')).toMatch(/^invalid value "lots" for --limit-memory: invalid size/);
    expect(refusal('--limit-cpu', 'x')).toMatch(/^invalid value "x" for --limit-cpu: invalid CPU count/);
    expect(refusal('--restart-condition', 'always')).toBe('invalid value "always" for --restart-condition: use any, on-failure, none');
    expect(refusal('--rollback-failure-action', 'rollback')).toBe('invalid value "rollback" for --rollback-failure-action: use pause, continue');
    expect(refusal('--update-max-failure-ratio', '1.5')).toBe('invalid value "1.5" for --update-max-failure-ratio: use a number between 0 and 1');
    expect(refusal('--placement-pref', 'binpack=x')).toMatch(/^invalid value "binpack=x" for --placement-pref: use spread=ATTRIBUTE/);
    expect(refusal('--no-healthcheck', '--health-retries', '2')).toBe('--no-healthcheck conflicts with --health-retries');
    expect(refusal('-e', 'NOT_IN_ENV')).toMatch(/^invalid value "NOT_IN_ENV" for --env: use KEY=VALUE/);
  });
});

describe('service update flags', () => {
  const base = (): ServiceSpec => {
    const spec = create(
      '--name', 'web', '--replicas', '2', '-e', 'A=1', '-e', 'B=2', '-l', 'keep=1', '-l', 'drop=1',
      '--constraint', 'node.role==worker', '--placement-pref', 'spread=node.labels.zone', '--update-parallelism', '3', 'nginx:1',
    );
    return spec;
  };

  it('changes only what the flags name and leaves the spec read untouched', () => {
    const before = base();
    const snapshot = ServiceSpec.toJSON(before);
    const after = update(before, '--image', 'nginx:2', '--replicas', '5', '--update-delay', '2s');
    expect(ServiceSpec.toJSON(before)).toEqual(snapshot);
    expect(after.task?.container?.image).toBe('nginx:2');
    expect(after.mode).toEqual({ $case: 'replicated', replicated: { replicas: 5 } });
    expect(after.update?.parallelism).toBe(3);
    expect(after.update?.delayMs).toBe(2000);
    expect(after.task?.container?.env).toEqual(['A=1', 'B=2']);
  });

  it('adds, replaces and removes env, labels, constraints and preferences', () => {
    const after = update(
      base(),
      '--env-add', 'B=20', '--env-add', 'C=3', '--env-rm', 'A',
      '--label-add', 'new=yes', '--label-rm', 'drop',
      '--container-label-add', 'c=1',
      '--constraint-add', 'node.labels.ssd==true', '--constraint-rm', 'node.role==worker',
      '--placement-pref-rm', 'spread=node.labels.zone', '--placement-pref-add', 'spread=node.labels.rack',
    );
    expect(after.task?.container?.env).toEqual(['B=20', 'C=3']);
    expect(after.annotations?.labels).toEqual({ keep: '1', new: 'yes' });
    expect(after.task?.container?.labels).toEqual({ c: '1' });
    expect(after.task?.placement?.constraints).toEqual(['node.labels.ssd==true']);
    expect(after.task?.placement?.preferences).toEqual([{ spread: 'node.labels.rack' }]);
  });

  it('replaces the args from a shell-like string and bumps forceUpdate with --force', () => {
    const after = update(base(), '--args', `sh -c 'echo "hi"'`, '--force');
    expect(after.task?.container?.args).toEqual(['sh', '-c', 'echo "hi"']);
    expect(after.task?.forceUpdate).toBe(1);
    expect(update(after, '--force').task?.forceUpdate).toBe(2);
  });

  it('refuses --replicas on a global service', () => {
    const global = create('--name', 'g', '--mode', 'global', 'agent');
    expect(() => update(global, '--replicas', '3')).toThrow('--replicas can only be used with replicated mode');
  });
});

const tcp = PortProtocol.PORT_PROTOCOL_TCP;
const udp = PortProtocol.PORT_PROTOCOL_UDP;
const ingress = PublishMode.PUBLISH_MODE_INGRESS;
const host = PublishMode.PUBLISH_MODE_HOST;
const port = (targetPort: number, publishedPort = 0, protocol = tcp, publishMode = ingress) => ({ targetPort, publishedPort, protocol, publishMode });

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  return 'accepted';
}

describe('network and port flags', () => {
  it('--publish takes both of docker\'s syntaxes; a lone target leaves the published port to the manager', () => {
    const spec = create(
      '--name', 'w',
      '-p', '8080:80', '--publish', '53:53/udp', '-p', '443', '-p', '9000-9001:90-91',
      '--publish', 'published=8443,target=443,protocol=udp,mode=host', '-p', 'target=22,mode=host',
      'nginx',
    );
    expect(spec.endpoint).toEqual({
      mode: EndpointMode.ENDPOINT_MODE_VIP,
      ports: [port(80, 8080), port(53, 53, udp), port(443), port(90, 9000), port(91, 9001), port(443, 8443, udp, host), port(22, 0, tcp, host)],
    });
    expect(create('--name', 'w', 'nginx').endpoint).toBeUndefined();
  });

  it('refuses bad --publish values with one usage error each', () => {
    const bad = (value: string) => usageError(() => create('--name', 'w', '-p', value, 'nginx'));
    expect(bad('80:0')).toBe('invalid value "80:0" for --publish: invalid target port "0": use a number from 1 to 65535');
    expect(bad('http')).toBe('invalid value "http" for --publish: invalid target port "http": use a number from 1 to 65535');
    expect(bad('80/sctp')).toBe('invalid value "80/sctp" for --publish: invalid protocol "sctp": use tcp or udp');
    expect(bad('127.0.0.1:80:80')).toMatch(/a host address is not supported/);
    expect(bad('8080-8082:80-81')).toMatch(/the published range 8080-8082 and the target range 80-81 differ in length/);
    expect(bad('published=80')).toBe('invalid value "published=80" for --publish: target is required');
    expect(bad('target=80,mode=bridge')).toBe('invalid value "target=80,mode=bridge" for --publish: invalid mode "bridge": use ingress or host');
    expect(bad('target=80,colour=red')).toMatch(/unknown key "colour"/);
  });

  it('--network takes a name or name=NAME,alias=A and stores the network id', () => {
    const spec = create('--name', 'w', '--network', 'front', '--network', 'name=back,alias=api,alias=v1', 'nginx');
    expect(spec.task?.networks).toEqual([
      { target: 'netfront', aliases: [] },
      { target: 'netback', aliases: ['api', 'v1'] },
    ]);
    const flags = parseArgs(serviceCreateFlags, ['--network', 'front', '--network', 'name=back,alias=x', 'img'], { stopAtFirstPositional: true }).flags;
    expect(networkRefs(flags, 'create')).toEqual(['front', 'back']);
    expect(networkRefs(parseArgs(serviceUpdateFlags, ['--network-add', 'front', '--network-rm', 'back', '--network-rm', 'front']).flags, 'update')).toEqual(['front', 'back']);
    expect(usageError(() => create('--name', 'w', '--network', 'alias=x', 'nginx'))).toBe('invalid value "alias=x" for --network: name=NAME is required');
    expect(usageError(() => create('--name', 'w', '--network', 'name=front,ip=10.0.0.9', 'nginx'))).toMatch(/"ip=10.0.0.9" is not one of those/);
    expect(usageError(() => create('--name', 'w', '--network', 'front', '--network', 'netfront', 'nginx'))).toBe('network netfront is given more than once');
  });

  it('--endpoint-mode is vip or dnsrr', () => {
    expect(create('--name', 'w', '--endpoint-mode', 'dnsrr', 'nginx').endpoint).toEqual({ mode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [] });
    expect(usageError(() => create('--name', 'w', '--endpoint-mode', 'nat', 'nginx'))).toBe('invalid value "nat" for --endpoint-mode: use vip, dnsrr');
  });

  it('update adds and removes networks, refusing one already attached', () => {
    const current = create('--name', 'w', '--network', 'front', 'nginx');
    const moved = update(current, '--network-rm', 'front', '--network-add', 'name=back,alias=db');
    expect(moved.task?.networks).toEqual([{ target: 'netback', aliases: ['db'] }]);
    expect(current.task?.networks).toEqual([{ target: 'netfront', aliases: [] }]);
    expect(() => update(current, '--network-add', 'front')).toThrow(new CliError('service is already attached to network front'));
    // Leaving out a network the service is not on is no error, as in docker.
    expect(update(current, '--network-rm', 'back').task?.networks).toEqual(current.task?.networks);
  });

  it('update removes ports by target[/protocol] or published port, and an added port replaces one with its published port', () => {
    const current = create('--name', 'w', '-p', '8080:80', '-p', '53:53/udp', '-p', '53:53', '-p', '443', 'nginx');
    expect(update(current, '--publish-rm', '53/udp').endpoint?.ports).toEqual([port(80, 8080), port(53, 53), port(443)]);
    expect(update(current, '--publish-rm', '80', '--publish-rm', 'published=53').endpoint?.ports).toEqual([port(53, 53, udp), port(443)]);
    expect(update(current, '--publish-add', '8080:81', '--publish-add', '9090:90').endpoint?.ports).toEqual([port(53, 53, udp), port(53, 53), port(443), port(81, 8080), port(90, 9090)]);
    // Adding a port that is already published changes nothing.
    expect(update(current, '--publish-add', '443').endpoint?.ports).toEqual(current.endpoint?.ports);
    expect(update(current, '--endpoint-mode', 'dnsrr').endpoint?.mode).toBe(EndpointMode.ENDPOINT_MODE_DNSRR);
    expect(usageError(() => update(current, '--publish-rm', 'protocol=udp'))).toBe('invalid value "protocol=udp" for --publish-rm: target is required');
    expect(usageError(() => update(current, '--publish-add', '80:80:80'))).toMatch(/^invalid value "80:80:80" for --publish-add: a host address/);
  });
});
