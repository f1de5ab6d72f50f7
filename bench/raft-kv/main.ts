/**
 * The raft-kv server process:
 *   node dist/bench/raft-kv/main.js --id n1 --raft-addr 127.0.0.1:P --client-addr 127.0.0.1:C \
 *     --peers n1=127.0.0.1:P1,n2=127.0.0.1:P2,n3=127.0.0.1:P3 --data-dir DIR [--bootstrap] \
 *     [--metrics-addr 127.0.0.1:M] [--exit-on-stdin-eof]
 * Logs JSON to stdout (SHOAL_LOG_LEVEL sets the level). SIGTERM/SIGINT stop it cleanly;
 * --exit-on-stdin-eof also stops it when its stdin closes, so a parent's death takes it along.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../src/common/logger.js';
import { RaftKvServer } from './server.js';

function parsePeers(text: string): { id: string; address: string }[] {
  return text.split(',').map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--peers: expected id=host:port, got ${JSON.stringify(part)}`);
    return { id: part.slice(0, eq), address: part.slice(eq + 1) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: 'string' },
      'raft-addr': { type: 'string' },
      'client-addr': { type: 'string' },
      peers: { type: 'string' },
      'data-dir': { type: 'string' },
      bootstrap: { type: 'boolean', default: false },
      'metrics-addr': { type: 'string' },
      'exit-on-stdin-eof': { type: 'boolean', default: false },
    },
  });
  const required = ['id', 'raft-addr', 'client-addr', 'peers', 'data-dir'] as const;
  for (const name of required) if (!values[name]) throw new Error(`--${name} is required`);
  const peers = parsePeers(values.peers!);
  if (!peers.some((p) => p.id === values.id)) throw new Error(`--peers must include this member (${values.id})`);

  const logger = createLogger(`raft-kv-${values.id}`);
  const server = await RaftKvServer.start({
    id: values.id!,
    raftAddress: values['raft-addr']!,
    clientAddress: values['client-addr']!,
    peers,
    dataDir: values['data-dir']!,
    bootstrap: values.bootstrap,
    metricsAddress: values['metrics-addr'],
    logger,
  });

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'raft-kv member stopping');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'raft-kv member did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (values['exit-on-stdin-eof']) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.resume();
  }
}

main().catch((err: unknown) => {
  console.error(`raft-kv: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
