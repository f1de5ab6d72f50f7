import { describe, expect, it } from 'vitest';
import {
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
} from '../../proto/gen/objects.js';
import { parseArgs } from './flags.js';
import { applyUpdateFlags, serviceCreateFlags, serviceUpdateFlags, specFromCreateFlags } from './service-options.js';

const env = { FROM_SHELL: 'shell-value' };

function create(...argv: string[]): ServiceSpec {
  const { flags, args } = parseArgs(serviceCreateFlags, argv, { stopAtFirstPositional: true });
  return specFromCreateFlags(flags, args, env, () => 'abc123');
}

function update(spec: ServiceSpec, ...argv: string[]): ServiceSpec {
  return applyUpdateFlags(spec, parseArgs(serviceUpdateFlags, argv).flags, env);
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
