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
        bootstrap: undefined,
        heartbeatPeriodMs: undefined,
      },
    });
    expect(() => parseManagerFlags(['--listen-addr', '127.0.0.1:1'])).toThrow(/--state-dir is required/);
    expect(() => parseManagerFlags(['--state-dir', 'x'])).toThrow(/--listen-addr is required/);
  });

  it('reads the bootstrap list, heartbeat period and the rest', () => {
    const parsed = parseManagerFlags([
      ...required, '--init', '--node-id', 'm1', '--socket', '/tmp/s.sock', '--advertise-addr', '10.0.0.1:4242',
      '--bootstrap', 'm1=127.0.0.1:4242,m2=127.0.0.1:4243', '--heartbeat-period', '500ms', '--log-level', 'debug',
    ]);
    expect(parsed).toMatchObject({
      logLevel: 'debug',
      options: {
        init: true,
        nodeId: 'm1',
        socketPath: '/tmp/s.sock',
        advertiseAddr: '10.0.0.1:4242',
        bootstrap: [{ id: 'm1', address: '127.0.0.1:4242' }, { id: 'm2', address: '127.0.0.1:4243' }],
        heartbeatPeriodMs: 500,
      },
    });
  });

  it('refuses malformed values with a usage error naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--bootstrap', 'm1'], /--bootstrap: expected ID=HOST:PORT/],
      [['--bootstrap', 'm1=nowhere'], /--bootstrap nowhere: expected HOST:PORT/],
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
