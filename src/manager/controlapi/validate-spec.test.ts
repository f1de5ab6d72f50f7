import { describe, expect, it } from 'vitest';
import {
  NodeAvailability,
  NodeRole,
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
  type NodeSpec,
} from '../../../proto/gen/objects.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG } from './spec-defaults.js';
import { validateNodeSpec } from './validate-node-spec.js';
import { InvalidSpecError, validateServiceSpec } from './validate-spec.js';

type SpecChange = (spec: ServiceSpec) => void;

function validSpec(): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name: 'web', labels: { tier: 'front' } },
    task: { container: { image: 'nginx:1.25', env: ['A=1', 'EMPTY='] } },
    mode: { $case: 'replicated', replicated: { replicas: 3 } },
  });
}

function specWith(change: SpecChange): ServiceSpec {
  const spec = validSpec();
  change(spec);
  return spec;
}

function rejection(change: SpecChange): string {
  try {
    validateServiceSpec(specWith(change));
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSpecError);
    return (err as Error).message;
  }
  throw new Error('the spec was accepted');
}

const container = (spec: ServiceSpec) => spec.task!.container!;

describe('validateServiceSpec: defaults', () => {
  it('fills update, rollback, restart policy and stop grace period when absent', () => {
    const result = validateServiceSpec(validSpec());
    expect(result.update).toEqual(DEFAULT_UPDATE_CONFIG);
    expect(result.rollback).toEqual(DEFAULT_UPDATE_CONFIG);
    expect(result.update).toEqual({
      parallelism: 1,
      delayMs: 0,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
      monitorMs: 5000,
      maxFailureRatio: 0,
      order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
    });
    expect(result.task?.restart).toEqual(DEFAULT_RESTART_POLICY);
    expect(result.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 5000, maxAttempts: 0, windowMs: 0 });
    expect(result.task?.container?.stopGracePeriodMs).toBe(10_000);
  });

  it('keeps parts that are given, and leaves the input untouched', () => {
    const input = specWith((s) => {
      s.update = { ...DEFAULT_UPDATE_CONFIG, parallelism: 2, monitorMs: 0 };
      s.task!.restart = { condition: RestartCondition.RESTART_CONDITION_NONE, delayMs: 0, maxAttempts: 0, windowMs: 0 };
      container(s).stopGracePeriodMs = 3000;
    });
    const before = ServiceSpec.toJSON(input);
    const result = validateServiceSpec(input);
    expect(result.update?.parallelism).toBe(2);
    expect(result.update?.monitorMs).toBe(0);
    expect(result.task?.restart?.condition).toBe(RestartCondition.RESTART_CONDITION_NONE);
    expect(result.task?.container?.stopGracePeriodMs).toBe(3000);
    expect(ServiceSpec.toJSON(input)).toEqual(before);
    expect(result.task?.container).not.toBe(input.task?.container);
  });

  it('is idempotent: a validated spec validates to the same bytes', () => {
    const once = validateServiceSpec(validSpec());
    const twice = validateServiceSpec(once);
    expect(Buffer.from(ServiceSpec.encode(twice).finish())).toEqual(Buffer.from(ServiceSpec.encode(once).finish()));
  });
});

describe('validateServiceSpec: name', () => {
  it('requires a name', () => {
    expect(rejection((s) => (s.annotations!.name = ''))).toBe('invalid spec: annotations.name: required');
    expect(rejection((s) => (s.annotations = undefined))).toBe('invalid spec: annotations.name: required');
  });

  it('accepts letters, digits, underscore, dot and dash after a letter or digit', () => {
    for (const name of ['a', 'Web_1', 'my-stack_web.v2', '9lives']) {
      expect(validateServiceSpec(specWith((s) => (s.annotations!.name = name))).annotations?.name).toBe(name);
    }
  });

  it('rejects other characters and leading punctuation', () => {
    expect(rejection((s) => (s.annotations!.name = '-web'))).toBe(
      `invalid spec: annotations.name: "-web": must start with a letter or digit and contain only letters, digits, '_', '.' and '-'`,
    );
    expect(rejection((s) => (s.annotations!.name = 'web app'))).toContain('annotations.name: "web app": must start');
    expect(rejection((s) => (s.annotations!.name = 'web/app'))).toContain('annotations.name: "web/app"');
  });

  it('limits the name to 63 characters', () => {
    expect(validateServiceSpec(specWith((s) => (s.annotations!.name = 'a'.repeat(63)))).annotations?.name).toHaveLength(63);
    expect(rejection((s) => (s.annotations!.name = 'a'.repeat(64)))).toBe(
      `invalid spec: annotations.name: "${'a'.repeat(64)}": longer than 63 characters`,
    );
  });

  it('rejects an empty label key', () => {
    expect(rejection((s) => (s.annotations!.labels = { '': 'x' }))).toBe('invalid spec: annotations.labels: a label key is empty');
  });
});

describe('validateServiceSpec: image', () => {
  it('requires an image', () => {
    expect(rejection((s) => (container(s).image = ''))).toBe('invalid spec: task.container.image: required');
    expect(rejection((s) => (s.task = undefined))).toBe('invalid spec: task.container.image: required');
  });

  it('accepts plausible references', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const image of [
      'nginx',
      'nginx:1.25',
      'library/nginx:latest',
      'registry.local:5000/team/app:v1.2-rc_3',
      'localhost/app',
      `alpine@${digest}`,
      `ghcr.io/org/img:tag@${digest}`,
      'a__b/c-d--e.f',
    ]) {
      expect(() => validateServiceSpec(specWith((s) => (container(s).image = image)))).not.toThrow();
    }
  });

  it('rejects implausible references', () => {
    expect(rejection((s) => (container(s).image = 'nginx:'))).toBe('invalid spec: task.container.image: "nginx:": not a valid image reference');
    for (const image of ['nginx::1', 'has space', '/nginx', 'nginx/', 'nginx@sha256:zz', '-nginx', `nginx:${'t'.repeat(129)}`]) {
      expect(rejection((s) => (container(s).image = image))).toBe(`invalid spec: task.container.image: "${image}": not a valid image reference`);
    }
  });

  it('says when only the case is wrong', () => {
    expect(rejection((s) => (container(s).image = 'Nginx:1'))).toBe(
      'invalid spec: task.container.image: "Nginx:1": repository name must be lowercase',
    );
  });

  it('limits the repository name to 255 characters', () => {
    const long = `${'a'.repeat(200)}/${'b'.repeat(60)}`;
    expect(rejection((s) => (container(s).image = long))).toBe(
      `invalid spec: task.container.image: "${long}": repository name longer than 255 characters`,
    );
  });
});

describe('validateServiceSpec: container', () => {
  it('requires KEY=VALUE environment entries with a non-empty key', () => {
    expect(rejection((s) => (container(s).env = ['A=1', 'B']))).toBe('invalid spec: task.container.env[1]: "B": expected KEY=VALUE');
    expect(rejection((s) => (container(s).env = ['=x']))).toBe('invalid spec: task.container.env[0]: "=x": the variable name is empty');
    expect(validateServiceSpec(specWith((s) => (container(s).env = ['A==b', 'URL=http://x?a=1']))).task?.container?.env).toEqual([
      'A==b',
      'URL=http://x?a=1',
    ]);
  });

  it('requires an absolute working directory', () => {
    expect(rejection((s) => (container(s).dir = 'app'))).toBe('invalid spec: task.container.dir: "app": must be an absolute path');
    expect(() => validateServiceSpec(specWith((s) => (container(s).dir = '/app')))).not.toThrow();
  });

  it('rejects an empty container label key', () => {
    expect(rejection((s) => (container(s).labels = { ' ': 'x' }))).toBe('invalid spec: task.container.labels: a label key is empty');
  });

  it('accepts known stop signals by name, SIG-prefixed name, any case, real-time offset or number', () => {
    for (const signal of ['TERM', 'SIGTERM', 'sigquit', 'SIGUSR1', 'KILL', '9', '64', 'SIGRTMIN+3', 'RTMAX-1', 'SIGRTMAX']) {
      expect(() => validateServiceSpec(specWith((s) => (container(s).stopSignal = signal)))).not.toThrow();
    }
  });

  it('rejects unknown stop signals', () => {
    expect(rejection((s) => (container(s).stopSignal = 'SIGFOO'))).toBe(
      'invalid spec: task.container.stopSignal: "SIGFOO": not a known signal name or number',
    );
    for (const signal of ['0', '65', 'SIGRTMIN+16', '-9', 'TERM ']) {
      expect(rejection((s) => (container(s).stopSignal = signal))).toContain(`task.container.stopSignal: "${signal}"`);
    }
  });

  it('rejects a negative stop grace period', () => {
    expect(rejection((s) => (container(s).stopGracePeriodMs = -1))).toBe(
      'invalid spec: task.container.stopGracePeriodMs: -1: must not be negative',
    );
  });
});

describe('validateServiceSpec: healthcheck', () => {
  const withTest = (test: string[]) => (s: ServiceSpec) => {
    container(s).healthcheck = { test, intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 0 };
  };

  it('accepts the image default, NONE, CMD with arguments and CMD-SHELL with one command', () => {
    for (const test of [[], ['NONE'], ['CMD', 'curl', '-f', 'http://localhost'], ['CMD-SHELL', 'curl -f http://localhost || exit 1']]) {
      expect(() => validateServiceSpec(specWith(withTest(test)))).not.toThrow();
    }
  });

  it('rejects malformed test forms', () => {
    expect(rejection(withTest(['NONE', 'x']))).toBe('invalid spec: task.container.healthcheck.test: NONE takes no arguments');
    expect(rejection(withTest(['CMD']))).toBe('invalid spec: task.container.healthcheck.test: CMD needs a command to run');
    expect(rejection(withTest(['CMD-SHELL']))).toBe('invalid spec: task.container.healthcheck.test: CMD-SHELL takes exactly one command string');
    expect(rejection(withTest(['CMD-SHELL', 'a', 'b']))).toBe(
      'invalid spec: task.container.healthcheck.test: CMD-SHELL takes exactly one command string',
    );
    expect(rejection(withTest(['curl', '-f']))).toBe('invalid spec: task.container.healthcheck.test[0]: "curl": must be NONE, CMD or CMD-SHELL');
  });

  it('rejects negative durations and fractional retries', () => {
    expect(rejection((s) => (withTest(['NONE'])(s), (container(s).healthcheck!.intervalMs = -5)))).toBe(
      'invalid spec: task.container.healthcheck.intervalMs: -5: must not be negative',
    );
    expect(rejection((s) => (withTest(['NONE'])(s), (container(s).healthcheck!.timeoutMs = -1)))).toContain('healthcheck.timeoutMs');
    expect(rejection((s) => (withTest(['NONE'])(s), (container(s).healthcheck!.startPeriodMs = -1)))).toContain('healthcheck.startPeriodMs');
    expect(rejection((s) => (withTest(['NONE'])(s), (container(s).healthcheck!.retries = 1.5)))).toBe(
      'invalid spec: task.container.healthcheck.retries: 1.5: must be a whole number',
    );
  });
});

describe('validateServiceSpec: resources', () => {
  const GiB = 1024 ** 3;

  it('accepts reservations within limits, and reservations under an unlimited (0) limit', () => {
    expect(() =>
      validateServiceSpec(
        specWith((s) => (s.task!.resources = { limits: { nanoCpus: 2e9, memoryBytes: GiB }, reservations: { nanoCpus: 5e8, memoryBytes: GiB } })),
      ),
    ).not.toThrow();
    expect(() =>
      validateServiceSpec(
        specWith((s) => (s.task!.resources = { limits: { nanoCpus: 0, memoryBytes: 0 }, reservations: { nanoCpus: 4e9, memoryBytes: 8 * GiB } })),
      ),
    ).not.toThrow();
  });

  it('rejects a reservation above its limit', () => {
    expect(
      rejection((s) => (s.task!.resources = { limits: { nanoCpus: 0, memoryBytes: GiB }, reservations: { nanoCpus: 0, memoryBytes: 2 * GiB } })),
    ).toBe(`invalid spec: task.resources.reservations.memoryBytes: ${2 * GiB} exceeds the limit ${GiB}`);
    expect(
      rejection((s) => (s.task!.resources = { limits: { nanoCpus: 1e9, memoryBytes: 0 }, reservations: { nanoCpus: 2e9, memoryBytes: 0 } })),
    ).toBe('invalid spec: task.resources.reservations.nanoCpus: 2000000000 exceeds the limit 1000000000');
  });

  it('rejects negative amounts and amounts below the floors', () => {
    expect(rejection((s) => (s.task!.resources = { limits: { nanoCpus: -1, memoryBytes: 0 } }))).toBe(
      'invalid spec: task.resources.limits.nanoCpus: -1: must not be negative',
    );
    expect(rejection((s) => (s.task!.resources = { reservations: { nanoCpus: 0, memoryBytes: -1 } }))).toBe(
      'invalid spec: task.resources.reservations.memoryBytes: -1: must not be negative',
    );
    expect(rejection((s) => (s.task!.resources = { limits: { nanoCpus: 1000, memoryBytes: 0 } }))).toBe(
      'invalid spec: task.resources.limits.nanoCpus: 1000: must be at least 1000000 (0.001 CPU)',
    );
    expect(rejection((s) => (s.task!.resources = { limits: { nanoCpus: 0, memoryBytes: 1024 } }))).toBe(
      'invalid spec: task.resources.limits.memoryBytes: 1024: must be at least 4194304 (4 MiB)',
    );
  });
});

describe('validateServiceSpec: restart policy', () => {
  const policy = (change: Partial<NonNullable<ServiceSpec['task']>['restart']>) => (s: ServiceSpec) => {
    s.task!.restart = { ...DEFAULT_RESTART_POLICY, ...change };
  };

  it('accepts every condition and zero (unlimited) attempts and window', () => {
    for (const condition of [RestartCondition.RESTART_CONDITION_ANY, RestartCondition.RESTART_CONDITION_ON_FAILURE, RestartCondition.RESTART_CONDITION_NONE]) {
      expect(validateServiceSpec(specWith(policy({ condition }))).task?.restart?.condition).toBe(condition);
    }
  });

  it('rejects an unknown condition, negative delay and window, fractional attempts', () => {
    expect(rejection(policy({ condition: 7 as RestartCondition }))).toBe(
      'invalid spec: task.restart.condition: 7: must be one of RESTART_CONDITION_ANY, RESTART_CONDITION_ON_FAILURE, RESTART_CONDITION_NONE',
    );
    expect(rejection(policy({ condition: RestartCondition.UNRECOGNIZED }))).toContain('task.restart.condition: -1: must be one of');
    expect(rejection(policy({ delayMs: -1 }))).toBe('invalid spec: task.restart.delayMs: -1: must not be negative');
    expect(rejection(policy({ windowMs: -1 }))).toBe('invalid spec: task.restart.windowMs: -1: must not be negative');
    expect(rejection(policy({ maxAttempts: 0.5 }))).toBe('invalid spec: task.restart.maxAttempts: 0.5: must be a whole number');
  });
});

describe('validateServiceSpec: placement', () => {
  const placement = (change: Partial<NonNullable<NonNullable<ServiceSpec['task']>['placement']>>) => (s: ServiceSpec) => {
    s.task!.placement = { constraints: [], preferences: [], maxReplicas: 0, ...change };
  };

  it('accepts supported constraints and names the first bad one by index, with the scheduler\'s reason', () => {
    expect(() => validateServiceSpec(specWith(placement({ constraints: ['node.role==worker', 'node.labels.zone!=b'] })))).not.toThrow();
    expect(rejection(placement({ constraints: ['node.role==worker', 'node.lables.x==y'] }))).toBe(
      'invalid spec: task.placement.constraints[1]: invalid constraint "node.lables.x==y": unknown key "node.lables.x" ' +
        '(use node.id, node.hostname, node.role, node.labels.NAME, node.platform.os, node.platform.arch or engine.labels.NAME)',
    );
    expect(rejection(placement({ constraints: ['node.role=worker'] }))).toBe(
      'invalid spec: task.placement.constraints[0]: invalid constraint "node.role=worker": expected KEY==VALUE or KEY!=VALUE',
    );
  });

  it('accepts spreading over node attributes, rejects other keys', () => {
    for (const spread of ['node.labels.zone', 'engine.labels.rack', 'node.platform.os', 'node.hostname']) {
      expect(() => validateServiceSpec(specWith(placement({ preferences: [{ spread }] })))).not.toThrow();
    }
    expect(rejection(placement({ preferences: [{ spread: 'node.labels.zone' }, { spread: 'zone' }] }))).toMatch(
      /^invalid spec: task\.placement\.preferences\[1\]\.spread: invalid placement preference "spread=zone": unknown key "zone"/,
    );
    expect(rejection(placement({ preferences: [{ spread: 'node.labels.' }] }))).toMatch(
      /^invalid spec: task\.placement\.preferences\[0\]\.spread: .*needs a label name/,
    );
  });

  it('limits replicas per node for replicated services only', () => {
    expect(validateServiceSpec(specWith(placement({ maxReplicas: 2 }))).task?.placement?.maxReplicas).toBe(2);
    expect(rejection(placement({ maxReplicas: -1 }))).toBe('invalid spec: task.placement.maxReplicas: -1: must not be negative');
    expect(rejection((s) => (placement({ maxReplicas: 1 })(s), (s.mode = { $case: 'global', global: {} })))).toBe(
      'invalid spec: task.placement.maxReplicas: only replicated services can limit replicas per node',
    );
  });
});

describe('validateServiceSpec: mode', () => {
  it('requires a mode', () => {
    expect(rejection((s) => (s.mode = undefined))).toBe('invalid spec: mode: required: replicated or global');
  });

  it('accepts zero replicas and global mode', () => {
    expect(validateServiceSpec(specWith((s) => (s.mode = { $case: 'replicated', replicated: { replicas: 0 } }))).mode).toEqual({
      $case: 'replicated',
      replicated: { replicas: 0 },
    });
    expect(validateServiceSpec(specWith((s) => (s.mode = { $case: 'global', global: {} }))).mode?.$case).toBe('global');
  });

  it('rejects negative or fractional replicas', () => {
    expect(rejection((s) => (s.mode = { $case: 'replicated', replicated: { replicas: -1 } }))).toBe(
      'invalid spec: mode.replicated.replicas: -1: must not be negative',
    );
    expect(rejection((s) => (s.mode = { $case: 'replicated', replicated: { replicas: 1.5 } }))).toBe(
      'invalid spec: mode.replicated.replicas: 1.5: must be a whole number',
    );
  });
});

describe('validateServiceSpec: update and rollback configs', () => {
  const update = (change: Partial<typeof DEFAULT_UPDATE_CONFIG>) => (s: ServiceSpec) => {
    s.update = { ...DEFAULT_UPDATE_CONFIG, ...change };
  };
  const rollback = (change: Partial<typeof DEFAULT_UPDATE_CONFIG>) => (s: ServiceSpec) => {
    s.rollback = { ...DEFAULT_UPDATE_CONFIG, ...change };
  };

  it('accepts every failure action and order, and ratios from 0 to 1', () => {
    for (const failureAction of [0, 1, 2]) {
      for (const order of [0, 1]) expect(() => validateServiceSpec(specWith(update({ failureAction, order })))).not.toThrow();
    }
    for (const maxFailureRatio of [0, 0.25, 1]) expect(() => validateServiceSpec(specWith(update({ maxFailureRatio })))).not.toThrow();
  });

  it('rejects a ratio outside 0..1', () => {
    expect(rejection(update({ maxFailureRatio: 1.5 }))).toBe('invalid spec: update.maxFailureRatio: 1.5: must be between 0 and 1');
    expect(rejection(update({ maxFailureRatio: -0.1 }))).toBe('invalid spec: update.maxFailureRatio: -0.1: must be between 0 and 1');
    expect(rejection(rollback({ maxFailureRatio: Number.NaN }))).toBe('invalid spec: rollback.maxFailureRatio: NaN: must be between 0 and 1');
  });

  it('rejects unknown enums and negative durations', () => {
    expect(rejection(update({ failureAction: 3 as UpdateFailureAction }))).toBe(
      'invalid spec: update.failureAction: 3: must be one of UPDATE_FAILURE_ACTION_PAUSE, UPDATE_FAILURE_ACTION_CONTINUE, UPDATE_FAILURE_ACTION_ROLLBACK',
    );
    expect(rejection(update({ order: 2 as UpdateOrder }))).toBe('invalid spec: update.order: 2: must be one of UPDATE_ORDER_STOP_FIRST, UPDATE_ORDER_START_FIRST');
    expect(rejection(update({ delayMs: -1 }))).toBe('invalid spec: update.delayMs: -1: must not be negative');
    expect(rejection(update({ monitorMs: -1 }))).toBe('invalid spec: update.monitorMs: -1: must not be negative');
    expect(rejection(update({ parallelism: -2 }))).toBe('invalid spec: update.parallelism: -2: must not be negative');
    expect(rejection(rollback({ monitorMs: -1 }))).toBe('invalid spec: rollback.monitorMs: -1: must not be negative');
  });

  it('refuses a rollback config whose failure action is to roll back', () => {
    expect(rejection(rollback({ failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK }))).toBe(
      'invalid spec: rollback.failureAction: a rollback cannot itself roll back; use PAUSE or CONTINUE',
    );
  });
});

describe('validateNodeSpec', () => {
  const nodeSpec = (change: Partial<NodeSpec> = {}): NodeSpec => ({
    annotations: { name: '', labels: { zone: 'a' } },
    desiredRole: NodeRole.NODE_ROLE_WORKER,
    availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
    ...change,
  });
  const nodeRejection = (spec: NodeSpec): string => {
    try {
      validateNodeSpec(spec);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidSpecError);
      return (err as Error).message;
    }
    throw new Error('the spec was accepted');
  };

  it('accepts labels, every availability and role, and fills absent annotations', () => {
    expect(validateNodeSpec(nodeSpec())).toEqual(nodeSpec());
    expect(validateNodeSpec(nodeSpec({ annotations: undefined })).annotations).toEqual({ name: '', labels: {} });
    expect(validateNodeSpec(nodeSpec({ desiredRole: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }))).toBeTruthy();
  });

  it('rejects empty label keys and unknown enums', () => {
    expect(nodeRejection(nodeSpec({ annotations: { name: '', labels: { '': 'x' } } }))).toBe(
      'invalid spec: annotations.labels: a label key is empty',
    );
    expect(nodeRejection(nodeSpec({ availability: 5 as NodeAvailability }))).toBe(
      'invalid spec: availability: 5: must be one of NODE_AVAILABILITY_ACTIVE, NODE_AVAILABILITY_PAUSE, NODE_AVAILABILITY_DRAIN',
    );
    expect(nodeRejection(nodeSpec({ desiredRole: NodeRole.UNRECOGNIZED }))).toBe(
      'invalid spec: desiredRole: -1: must be one of NODE_ROLE_WORKER, NODE_ROLE_MANAGER',
    );
  });
});
