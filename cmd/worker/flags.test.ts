import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseFakeConfig } from './fake-config.js';
import { defaultRuntimeRoot, parseWorkerFlags, UsageError } from './flags.js';

const required = ['--join', '127.0.0.1:4242', '--state-dir', '/tmp/w'];

describe('shoal worker flags', () => {
  it('needs a manager to join and a state directory, and defaults the rest', () => {
    expect(parseWorkerFlags(required, {})).toEqual({
      help: false,
      managers: ['127.0.0.1:4242'],
      joinToken: undefined,
      stateDir: '/tmp/w',
      executor: 'runtime',
      runtimeRoot: defaultRuntimeRoot('/tmp/w'),
      cgroupParent: `/shoal/${hostname()}`,
      insecureRegistries: [],
      gatewaySubnet: undefined,
      fakeConfigFile: undefined,
      labels: {},
      hostname: undefined,
      logLevel: 'info',
    });
    expect(() => parseWorkerFlags(['--state-dir', '/tmp/w'])).toThrow(/--join is required/);
    expect(() => parseWorkerFlags(['--join', '127.0.0.1:1'])).toThrow(/--state-dir is required/);
  });

  it('takes several managers, labels and the rest', () => {
    const parsed = parseWorkerFlags([
      '--join', '10.0.0.1:4242,10.0.0.2:4242', '--join', 'm3:4242', '--state-dir', '/w',
      '--label', 'zone=a', '--label', 'ssd', '--label', 'k=v=w', '--hostname', 'w1', '--log-level', 'debug',
      '--executor', 'fake', '--fake-config', '/etc/fake.json',
    ]);
    expect(parsed).toMatchObject({
      managers: ['10.0.0.1:4242', '10.0.0.2:4242', 'm3:4242'],
      labels: { zone: 'a', ssd: '', k: 'v=w' },
      hostname: 'w1',
      logLevel: 'debug',
      fakeConfigFile: '/etc/fake.json',
    });
  });

  it('gives each worker its own runtime root, and its containers a cgroup parent named after the node', () => {
    expect(defaultRuntimeRoot('/var/lib/shoal/w1')).toMatch(/^\/run\/shoal\/[0-9a-f]{12}\/runtime$/);
    expect(defaultRuntimeRoot('/var/lib/shoal/w1')).not.toBe(defaultRuntimeRoot('/var/lib/shoal/w2'));
    expect(parseWorkerFlags([...required, '--hostname', 'w1'])).toMatchObject({ cgroupParent: '/shoal/w1' });
    expect(parseWorkerFlags([...required, '--runtime-root', '/run/r', '--cgroup-parent', '/mine/w'])).toMatchObject({ runtimeRoot: '/run/r', cgroupParent: '/mine/w' });
  });

  it('takes registries to pull from over plain HTTP, each as HOST:PORT', () => {
    expect(parseWorkerFlags([...required, '--insecure-registry', '10.213.0.1:5000', '--insecure-registry', 'reg.lan:443'])).toMatchObject({
      insecureRegistries: ['10.213.0.1:5000', 'reg.lan:443'],
    });
    expect(() => parseWorkerFlags([...required, '--insecure-registry', 'reg.lan'])).toThrow(/--insecure-registry reg.lan: expected HOST:PORT/);
  });

  it('takes the gateway bridge\'s subnet, a /29 at least', () => {
    expect(parseWorkerFlags([...required, '--gateway-subnet', '10.99.0.0/24'])).toMatchObject({ gatewaySubnet: '10.99.0.0/24' });
    expect(() => parseWorkerFlags([...required, '--gateway-subnet', '10.99.0.0/30'])).toThrow(/--gateway-subnet: invalid gateway subnet 10.99.0.0\/30: at least a \/29/);
    expect(() => parseWorkerFlags([...required, '--gateway-subnet', 'nope'])).toThrow(UsageError);
  });

  it('takes the nameservers to forward outside names to, none, or leaves them to resolv.conf', () => {
    expect(parseWorkerFlags([...required, '--dns-upstream', '10.0.0.2,127.0.0.1:5353'])).toMatchObject({
      dnsUpstream: [
        { address: '10.0.0.2', port: 53 },
        { address: '127.0.0.1', port: 5353 },
      ],
    });
    expect(parseWorkerFlags([...required, '--dns-upstream', 'none'])).toMatchObject({ dnsUpstream: [] });
    expect(parseWorkerFlags(required)).toMatchObject({ dnsUpstream: undefined });
    expect(() => parseWorkerFlags([...required, '--dns-upstream', 'dns.lan'])).toThrow(new UsageError('--dns-upstream: not an IP address: "dns.lan"'));
  });

  it('takes the join token from --token, else from SHOAL_JOIN_TOKEN', () => {
    expect(parseWorkerFlags([...required, '--token', 'SHTKN-flag'], { SHOAL_JOIN_TOKEN: 'SHTKN-env' })).toMatchObject({ joinToken: 'SHTKN-flag' });
    expect(parseWorkerFlags(required, { SHOAL_JOIN_TOKEN: 'SHTKN-env' })).toMatchObject({ joinToken: 'SHTKN-env' });
    expect(parseWorkerFlags(required, { SHOAL_JOIN_TOKEN: '' })).toMatchObject({ joinToken: undefined });
  });

  it('refuses what it cannot use', () => {
    for (const extra of [
      ['--executor', 'runc'], ['--log-level', 'loud'], ['--label', '=x'], ['--hostname', ''], ['--token', ''], ['stray'],
      ['--fake-config', '/etc/fake.json'], ['--runtime-root', ''], ['--cgroup-parent', '/a/../b'], ['--cgroup-parent', ''],
    ]) {
      expect(() => parseWorkerFlags([...required, ...extra])).toThrow(UsageError);
    }
    expect(() => parseWorkerFlags(['--join', 'nohost', '--state-dir', '/w'])).toThrow(/expected HOST:PORT/);
    expect(parseWorkerFlags(['--help'])).toEqual({ help: true });
  });
});

describe('--fake-config', () => {
  it('reads timings and per-image behaviours', () => {
    const config = parseFakeConfig(
      JSON.stringify({
        prepareDelay: '500ms',
        startDelay: '1s',
        healthyAfter: '2s',
        behaviours: [
          { image: 'app:bad', exitAfter: '1s', exitCode: 3 },
          { imagePattern: '^broken:', failStart: 'exec format error', ignoreSigterm: true },
          { image: 'sick:1', unhealthyAfter: '1m' },
          { image: 'missing:1', failPrepare: 'no such image' },
        ],
      }),
    );
    expect(config).toMatchObject({ prepareDelayMs: 500, startDelayMs: 1_000, healthyAfterMs: 2_000 });
    expect(config.behaviours).toEqual([
      { image: 'app:bad', exitAfterMs: 1_000, exitCode: 3, failPrepare: undefined, failStart: undefined, unhealthyAfterMs: undefined, ignoreSigterm: undefined },
      { image: /^broken:/, failStart: 'exec format error', ignoreSigterm: true, failPrepare: undefined, exitAfterMs: undefined, exitCode: undefined, unhealthyAfterMs: undefined },
      { image: 'sick:1', unhealthyAfterMs: 60_000, failPrepare: undefined, failStart: undefined, exitAfterMs: undefined, exitCode: undefined, ignoreSigterm: undefined },
      { image: 'missing:1', failPrepare: 'no such image', failStart: undefined, exitAfterMs: undefined, exitCode: undefined, unhealthyAfterMs: undefined, ignoreSigterm: undefined },
    ]);
  });

  it('says what is wrong, and where', () => {
    expect(() => parseFakeConfig('{')).toThrow(/not JSON/);
    expect(() => parseFakeConfig('{"startdelay": "1s"}')).toThrow(/unknown key "startdelay"/);
    expect(() => parseFakeConfig('{"startDelay": "soon"}')).toThrow(/startDelay: invalid duration/);
    expect(() => parseFakeConfig('{"behaviours": [{"exitCode": 1}]}')).toThrow(/behaviours\[0\]: give exactly one of image and imagePattern/);
    expect(() => parseFakeConfig('{"behaviours": [{"image": "a", "exitCode": 300}]}')).toThrow(/exitCode: expected an integer/);
    expect(() => parseFakeConfig('{"behaviours": [{"imagePattern": "("}]}')).toThrow(/imagePattern/);
  });
});
