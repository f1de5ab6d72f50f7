/**
 * `shoal worker ...`: joins the cluster if this node has not yet (its certificate is kept in the
 * state directory; a join that fails is one line on stderr and exit 1), then runs the worker agent until SIGTERM or SIGINT (exit 0; its tasks keep running
 * for the next start to take up) or until the managers say this node was removed from the cluster
 * (its tasks are stopped; exit 1). Logs are pino JSON on stderr.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { Executor } from '../../src/agent/executor.js';
import { FakeExecutor } from '../../src/agent/fake-executor.js';
import { RuntimeExecutor } from '../../src/agent/runtime-executor/runtime-executor.js';
import { defaultRuntimePath } from '../../src/runtime/container/index.js';
import { nameserversOf } from '../../src/network/dns/upstream-servers.js';
import type { UpstreamServer } from '../../src/network/dns/upstream.js';
import { RegistryClient } from '../../src/runtime/image/registry-client.js';
import { FakeConfigError, parseFakeConfig, type FakeConfig } from './fake-config.js';
import { parseWorkerFlags, usage, UsageError, type WorkerFlags } from './flags.js';

/** Runs the worker; resolves with the process exit code. */
export async function runWorker(argv: string[]): Promise<number> {
  let flags: WorkerFlags;
  let fakeConfig: FakeConfig;
  try {
    const parsed = parseWorkerFlags(argv);
    if (parsed.help) {
      process.stdout.write(usage);
      return 0;
    }
    flags = parsed;
    fakeConfig = flags.fakeConfigFile === undefined ? {} : readFakeConfig(flags.fakeConfigFile);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`shoal worker: ${err.message}; see 'shoal worker --help'\n`);
    return 2;
  }

  const logger = pino({ name: 'shoal-worker', level: flags.logLevel }, pino.destination(2));
  let executor: Executor & { close?: () => void };
  try {
    executor = makeExecutor(flags, fakeConfig);
  } catch (err) {
    process.stderr.write(`shoal worker: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  let agent: Agent;
  try {
    agent = await Agent.start({
      stateDir: flags.stateDir,
      managers: flags.managers,
      joinToken: flags.joinToken,
      executor,
      labels: flags.labels,
      hostname: flags.hostname,
      gatewaySubnet: flags.gatewaySubnet,
      dnsUpstream: flags.dnsUpstream ?? hostNameservers(),
      logger,
    });
  } catch (err) {
    logger.error({ err }, 'worker failed to start');
    process.stderr.write(`shoal worker: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  const code = await new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'worker: stop requested; tasks keep running');
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'worker did not stop cleanly');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    void agent.done.then((end) => {
      if (end.kind !== 'removed') return;
      process.stderr.write(`shoal worker: ${end.message}\n`);
      resolve(1);
    });
  });
  // The containers go on; their healthchecks' timers would keep this process alive.
  executor.close?.();
  return code;
}

/**
 * The runtime executor (the default) needs root and the shoal-runtime binary; both are checked
 * before the node joins, so a worker that could run nothing never becomes a node.
 */
function makeExecutor(flags: WorkerFlags, fakeConfig: FakeConfig): Executor & { close?: () => void } {
  if (flags.executor === 'fake') return new FakeExecutor({ ...fakeConfig, stateDir: join(flags.stateDir, 'fake-executor') });
  if (process.getuid?.() !== 0) throw new Error('the runtime executor runs containers and needs root (--executor fake simulates them)');
  const runtimePath = defaultRuntimePath();
  if (!existsSync(runtimePath)) throw new Error(`${runtimePath} not found: build it with 'make build' (or bash src/runtime/shim/build.sh)`);
  return new RuntimeExecutor({
    stateDir: join(flags.stateDir, 'containers'),
    imageStateDir: flags.stateDir,
    runtimeRoot: flags.runtimeRoot,
    runtimePath,
    cgroupParent: flags.cgroupParent,
    registry: new RegistryClient({ insecureRegistries: flags.insecureRegistries }),
  });
}

function readFakeConfig(path: string): FakeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--fake-config ${path}: ${(err as Error).message}`);
  }
  try {
    return parseFakeConfig(text);
  } catch (err) {
    if (err instanceof FakeConfigError) throw new UsageError(`--fake-config ${path}: ${err.message}`);
    throw err;
  }
}

/** The nameservers of this node's resolv.conf, Docker's default upstream; none when there is no such file. */
function hostNameservers(): UpstreamServer[] {
  try {
    return nameserversOf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}
