import { describe, expect, it } from 'vitest';
import { Task } from '../../../proto/gen/objects.js';
import { commandLine, DEFAULT_PATH, mergeEnv, mergeHealthcheck, taskContainer, type TaskPaths } from './container-spec.js';
import type { RuntimeConfig } from '../../runtime/image/image-config.js';

const paths: TaskPaths = { dir: '/s/t1', rootfs: '/s/t1/rootfs', upper: '/s/t1/upper', work: '/s/t1/work', log: '/s/t1/container.log' };
const settings = { cgroupParent: '/shoal/node-1', logMaxSizeBytes: 10 * 1024 * 1024, logMaxFiles: 3 };
const image = (over: Partial<RuntimeConfig> = {}): { layerDirs: string[]; defaults: RuntimeConfig } => ({
  layerDirs: ['/img/layers/bottom', '/img/layers/middle', '/img/layers/top'],
  defaults: { cmd: ['/bin/sh'], entrypoint: [], env: ['PATH=/usr/bin:/bin'], workingDir: '', user: '', stopSignal: '', ...over },
});
const task = (container: object = {}, rest: object = {}): Task =>
  Task.fromPartial({ meta: { id: 'abcdefghijklmnopqrstuvwxy' }, spec: { container: { image: 'busybox', ...container }, ...rest } });

describe('taskContainer', () => {
  it('runs the image as it is when the service sets nothing, on an overlay of its layers, top first', () => {
    expect(taskContainer(task(), image(), paths, settings)).toEqual({
      spec: {
        rootfs: '/s/t1/rootfs',
        overlay: { lower: ['/img/layers/top', '/img/layers/middle', '/img/layers/bottom'], upper: '/s/t1/upper', work: '/s/t1/work' },
        args: ['/bin/sh'],
        env: ['PATH=/usr/bin:/bin', 'HOSTNAME=abcdefghijkl'],
        hostname: 'abcdefghijkl',
        cwd: '/',
        stopTimeoutSeconds: 10,
        log: { path: '/s/t1/container.log', maxSizeBytes: 10 * 1024 * 1024, maxFiles: 3 },
        cgroupsPath: '/shoal/node-1/abcdefghijklmnopqrstuvwxy',
      },
    });
  });

  it('takes the service’s settings over the image’s, and its resource limits', () => {
    const { spec } = taskContainer(
      task(
        { command: ['/app'], args: ['-v'], env: ['MODE=prod', 'PATH=/app/bin'], dir: '/srv', user: 'nobody', hostname: 'web', stopSignal: 'SIGQUIT', stopGracePeriodMs: 2_500 },
        { resources: { limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000 } } },
      ),
      image({ entrypoint: ['/entry'], env: ['PATH=/usr/bin', 'MODE=dev'], workingDir: '/data', user: 'daemon', stopSignal: 'SIGUSR1' }),
      paths,
      { ...settings, cgroupParent: '/shoal/node-1/' },
    );
    expect(spec).toMatchObject({
      args: ['/app', '-v'],
      env: ['PATH=/app/bin', 'HOSTNAME=web', 'MODE=prod'],
      hostname: 'web',
      cwd: '/srv',
      user: 'nobody',
      stopSignal: 'SIGQUIT',
      stopTimeoutSeconds: 3,
      memoryBytes: 64 * 1024 * 1024,
      nanoCpus: 500_000_000,
      cgroupsPath: '/shoal/node-1/abcdefghijklmnopqrstuvwxy',
    });
  });

  it('falls back on the image’s directory (relative to /), user and stop signal', () => {
    const { spec } = taskContainer(task(), image({ workingDir: 'app', user: '1000:1000', stopSignal: 'SIGINT' }), paths, settings);
    expect(spec).toMatchObject({ cwd: '/app', user: '1000:1000', stopSignal: 'SIGINT' });
  });

  it('gives PATH its docker default when neither the image nor the service sets one', () => {
    expect(taskContainer(task({ env: ['A=1'] }), image({ env: [] }), paths, settings).spec.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=abcdefghijkl', 'A=1']);
  });

  it('carries the healthcheck, merged with the image’s, and none when it is NONE', () => {
    const imageCheck = { test: ['CMD', 'true'], intervalMs: 5_000, timeoutMs: 1_000, retries: 2, startPeriodMs: 0 };
    const serviceCheck = { test: ['CMD-SHELL', 'wget -q localhost'], intervalMs: 1_000, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
    expect(taskContainer(task({ healthcheck: serviceCheck }), image({ healthcheck: imageCheck }), paths, settings).healthcheck).toEqual({
      test: ['CMD-SHELL', 'wget -q localhost'],
      intervalMs: 1_000,
      timeoutMs: 1_000,
      retries: 2,
      startPeriodMs: 0,
    });
    expect(taskContainer(task(), image({ healthcheck: imageCheck }), paths, settings).healthcheck).toEqual(imageCheck);
    expect(taskContainer(task({ healthcheck: { ...serviceCheck, test: ['NONE'] } }), image({ healthcheck: imageCheck }), paths, settings).healthcheck).toBeUndefined();
    expect(taskContainer(task(), image(), paths, settings)).not.toHaveProperty('healthcheck');
  });
});

describe('commandLine (docker’s ENTRYPOINT and CMD rules)', () => {
  const img = { entrypoint: ['/entry', '--flag'], cmd: ['default', 'args'] };
  it('runs the image’s entrypoint with its cmd, or with the service’s args instead', () => {
    expect(commandLine([], [], img)).toEqual(['/entry', '--flag', 'default', 'args']);
    expect(commandLine([], ['mine'], img)).toEqual(['/entry', '--flag', 'mine']);
    expect(commandLine([], [], { entrypoint: [], cmd: ['/bin/sh'] })).toEqual(['/bin/sh']);
    expect(commandLine([], ['echo', 'hi'], { entrypoint: [], cmd: ['/bin/sh'] })).toEqual(['echo', 'hi']);
  });

  it('lets a service command replace both the entrypoint and the cmd', () => {
    expect(commandLine(['/bin/echo'], [], img)).toEqual(['/bin/echo']);
    expect(commandLine(['/bin/echo'], ['hi'], img)).toEqual(['/bin/echo', 'hi']);
  });

  it('refuses a container with nothing to run', () => {
    expect(() => commandLine([], [], { entrypoint: [], cmd: [] })).toThrow(/^no command specified/);
  });
});

describe('mergeEnv', () => {
  it('replaces a key where it first stood and appends new ones', () => {
    expect(mergeEnv(['PATH=/a', 'HOSTNAME=h'], ['LANG=C', 'PATH=/b'], ['X=1', 'LANG=en', 'EMPTY='])).toEqual(['PATH=/b', 'HOSTNAME=h', 'LANG=en', 'X=1', 'EMPTY=']);
  });
});

describe('mergeHealthcheck', () => {
  it('takes the image’s test when the service gives only timings, and nothing when neither has a test', () => {
    expect(mergeHealthcheck({ test: [], intervalMs: 2_000 }, { test: ['CMD', 'check'], intervalMs: 30_000, retries: 5 })).toEqual({
      test: ['CMD', 'check'],
      intervalMs: 2_000,
      timeoutMs: undefined,
      startPeriodMs: undefined,
      retries: 5,
    });
    expect(mergeHealthcheck({ test: [], intervalMs: 2_000 }, undefined)).toBeUndefined();
    expect(mergeHealthcheck(undefined, { test: ['NONE'] })).toBeUndefined();
  });
});
