import { describe, expect, it } from 'vitest';
import { HealthState, TaskState, type Task } from '../../../proto/gen/objects.js';
import { makeService, makeTask } from '../../store/testing/index.js';
import { DirtyCheck, isDirty, isUp, newTask } from './task.js';

describe('newTask', () => {
  it('copies the service spec and version, PENDING and desired RUNNING', () => {
    const service = makeService('web', 3, 'svc-1');
    const task = newTask(service, { slot: 2 }, { now: 1234 });
    expect(task.meta?.id).toMatch(/^[a-z0-9]{25}$/);
    expect(task).toMatchObject({
      serviceId: 'svc-1',
      slot: 2,
      nodeId: '',
      specVersion: 1,
      desiredState: TaskState.TASK_STATE_RUNNING,
      serviceAnnotations: { name: 'web' },
      status: { state: TaskState.TASK_STATE_PENDING, message: 'pending task scheduling', timestamp: 1234 },
    });
    expect(task.spec).toEqual(service.spec?.task);
  });

  it('carries the service\'s endpoint, so a task the allocator never sees still knows its host-mode ports', () => {
    const endpoint = { mode: 0, ports: [{ protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: 1 }] };
    const service = { ...makeService('web'), endpoint: { spec: endpoint, ports: endpoint.ports, virtualIps: [] } };
    const task = newTask(service, { slot: 1 }, { now: 0 });
    expect(task.endpoint).toEqual(service.endpoint);
    // A scale bumps the version; the task still matches its service.
    expect(isDirty(task, { ...service, specVersion: service.specVersion + 1, spec: { ...service.spec!, endpoint } })).toBe(false);
  });

  it('places a global task on its node, slot 0, and may start it READY', () => {
    const task = newTask(makeService('agent'), { nodeId: 'n1' }, { now: 0, desiredState: TaskState.TASK_STATE_READY });
    expect([task.slot, task.nodeId, task.desiredState]).toEqual([0, 'n1', TaskState.TASK_STATE_READY]);
  });
});

describe('isDirty', () => {
  const service = makeService('web');
  const bumped = { ...service, specVersion: 2 };
  const changed = { ...bumped, spec: { ...bumped.spec!, task: { ...bumped.spec!.task!, container: { ...bumped.spec!.task!.container!, image: 'other' } } } };

  it('is clean at the same version', () => {
    expect(isDirty(makeTask(), service)).toBe(false);
  });

  it('is clean when only the version moved (a scale, a rename)', () => {
    expect(isDirty(makeTask(), bumped as typeof service)).toBe(false);
  });

  it('is dirty when the task spec differs', () => {
    expect(isDirty(makeTask(), changed as typeof service)).toBe(true);
  });

  it('is dirty when the endpoint it was allocated for differs from the service\'s, as published ports', () => {
    const endpoint = { mode: 0, ports: [{ protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: 0 }] };
    const published = { ...bumped, spec: { ...bumped.spec!, endpoint } } as typeof service;
    expect(isDirty(makeTask(), published)).toBe(true);
    expect(isDirty({ ...makeTask(), endpoint: { spec: endpoint, ports: [], virtualIps: [] } }, published)).toBe(false);
    // No endpoint and the default one (VIP, no ports) are the same.
    const explicitDefault = { ...bumped, spec: { ...bumped.spec!, endpoint: { mode: 0, ports: [] } } } as typeof service;
    expect(isDirty(makeTask(), explicitDefault)).toBe(false);
  });

  it('decides once per spec version', () => {
    const check = new DirtyCheck(changed as typeof service);
    const a = makeTask();
    const b: Task = { ...makeTask(), spec: undefined };
    expect(check.isDirty(a)).toBe(true);
    // Same version as a: the answer for the version stands.
    expect(check.isDirty(b)).toBe(true);
  });
});

describe('isUp', () => {
  const running = (health: HealthState, test: string[] = []): Task => {
    const t = makeTask({ state: TaskState.TASK_STATE_RUNNING });
    return { ...t, spec: { ...t.spec!, container: { ...t.spec!.container!, healthcheck: { test, intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } }, status: { ...t.status!, health } };
  };

  it('needs RUNNING', () => {
    expect(isUp(makeTask({ state: TaskState.TASK_STATE_STARTING }))).toBe(false);
    expect(isUp(running(HealthState.HEALTH_STATE_NONE))).toBe(true);
  });

  it('needs HEALTHY when there is a healthcheck', () => {
    expect(isUp(running(HealthState.HEALTH_STATE_STARTING, ['CMD', 'true']))).toBe(false);
    expect(isUp(running(HealthState.HEALTH_STATE_HEALTHY, ['CMD', 'true']))).toBe(true);
    expect(isUp(running(HealthState.HEALTH_STATE_NONE, ['NONE']))).toBe(true);
  });

  it('goes by the reported health, not the spec: an image’s own healthcheck counts too', () => {
    expect(isUp(running(HealthState.HEALTH_STATE_STARTING))).toBe(false);
    expect(isUp(running(HealthState.HEALTH_STATE_UNHEALTHY))).toBe(false);
    expect(isUp(running(HealthState.HEALTH_STATE_HEALTHY))).toBe(true);
    // A worker re-checking a task after its restart: not up until its verdict.
    expect(isUp(running(HealthState.HEALTH_STATE_STARTING, ['NONE']))).toBe(false);
  });
});
