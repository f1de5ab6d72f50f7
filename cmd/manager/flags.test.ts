import { describe, expect, it } from 'vitest';
import { DEFAULT_SOCKET_PATH } from '../../src/manager/control-socket.js';
import { parseManagerFlags, UsageError } from './flags.js';

const required = ['--state-dir', '/tmp/s', '--listen-addr', '127.0.0.1:4242'];

describe('shoal manager flags', () => {
  it('needs a state directory and a listen address, and defaults the rest', () => {
    expect(parseManagerFlags(required)).toEqual({
      help: false,
      logLevel: 'info',
      options: {
        stateDir: '/tmp/s',
        listenAddr: '127.0.0.1:4242',
        advertiseAddr: undefined,
        socketPath: DEFAULT_SOCKET_PATH,
        init: false,
        nodeId: undefined,
        join: undefined,
        heartbeatPeriodMs: undefined,
        certExpiryMs: undefined,
        forceNewCluster: false,
      },
    });
    expect(() => parseManagerFlags(['--listen-addr', '127.0.0.1:1'])).toThrow(/--state-dir is required/);
    expect(() => parseManagerFlags(['--state-dir', 'x'])).toThrow(/--listen-addr is required/);
  });

  it('reads --init with the new cluster’s settings', () => {
    const parsed = parseManagerFlags([
      ...required, '--init', '--node-id', 'm1', '--socket', '/tmp/s.sock', '--advertise-addr', '10.0.0.1:4242',
      '--heartbeat-period', '500ms', '--cert-expiry', '720h', '--log-level', 'debug',
    ]);
    expect(parsed).toMatchObject({
      logLevel: 'debug',
      options: { init: true, nodeId: 'm1', socketPath: '/tmp/s.sock', advertiseAddr: '10.0.0.1:4242', heartbeatPeriodMs: 500, certExpiryMs: 720 * 3600 * 1000 },
    });
  });

  it('reads --join with its token, from the flag or $SHOAL_JOIN_TOKEN', () => {
    expect(parseManagerFlags([...required, '--join', '10.0.0.1:4242', '--token', 'SHTKN-1-a-b'])).toMatchObject({
      options: { init: false, join: { address: '10.0.0.1:4242', token: 'SHTKN-1-a-b' } },
    });
    process.env.SHOAL_JOIN_TOKEN = 'SHTKN-1-c-d';
    try {
      expect(parseManagerFlags([...required, '--join', '10.0.0.1:4242'])).toMatchObject({ options: { join: { token: 'SHTKN-1-c-d' } } });
    } finally {
      delete process.env.SHOAL_JOIN_TOKEN;
    }
  });

  it('reads --force-new-cluster, which recovers an existing manager only', () => {
    expect(parseManagerFlags([...required, '--force-new-cluster'])).toMatchObject({ options: { forceNewCluster: true } });
    expect(() => parseManagerFlags([...required, '--init', '--force-new-cluster'])).toThrow(/--force-new-cluster recovers an existing manager/);
    expect(() => parseManagerFlags([...required, '--force-new-cluster', '--join', '10.0.0.1:1', '--token', 't'])).toThrow(UsageError);
  });

  it('refuses malformed values with a usage error naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--join', 'nowhere', '--token', 't'], /--join nowhere: expected HOST:PORT/],
      [['--join', '10.0.0.1:1'], /--join needs --token/],
      [['--token', 't'], /--token goes with --join/],
      [['--init', '--join', '10.0.0.1:1', '--token', 't'], /give one of them/],
      [['--node-id', 'm2', '--join', '10.0.0.1:1', '--token', 't'], /--node-id applies to --init/],
      [['--cert-expiry', '10m'], /--cert-expiry 10m: must be at least 1h/],
      [['--heartbeat-period', '5'], /--heartbeat-period/],
      [['--heartbeat-period', '1ms'], /at least 10ms/],
      [['--log-level', 'loud'], /--log-level loud/],
      [['--frobnicate'], /frobnicate/],
    ];
    for (const [extra, message] of cases) {
      expect(() => parseManagerFlags([...required, ...extra])).toThrow(UsageError);
      expect(() => parseManagerFlags([...required, ...extra])).toThrow(message);
    }
  });
});
