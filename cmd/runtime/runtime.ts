/**
 * `shoal runtime ...`: the OCI runtime command line (create, start, state, kill, delete, run, spec,
 * exec), so that shoal's runtime can be driven and compared like runc. Everything after `runtime`
 * goes to the shoal-runtime binary unchanged, with this process's stdio; its exit code is ours.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { defaultRuntimePath } from '../../src/runtime/container/runtime-container.js';
import type { Output } from '../cli/io.js';

/**
 * Signals a terminal sends to the whole foreground process group reach the runtime by themselves;
 * the others, sent to this process alone, are passed on. Either way this process stays until the
 * runtime exits, so that its exit code is the one reported.
 */
const FROM_TERMINAL = ['SIGINT', 'SIGQUIT'] as const;
const PASSED_ON = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export function runRuntime(argv: readonly string[], opts: { runtimePath?: string; err?: Output } = {}): Promise<number> {
  const runtimePath = opts.runtimePath ?? defaultRuntimePath();
  const err = opts.err ?? process.stderr;
  return new Promise((resolve) => {
    const child = spawn(runtimePath, argv, { stdio: 'inherit' });
    const ignore = (): void => {};
    const pass = (signal: NodeJS.Signals): void => void child.kill(signal);
    for (const signal of FROM_TERMINAL) process.on(signal, ignore);
    for (const signal of PASSED_ON) process.on(signal, pass);
    const done = (code: number): void => {
      for (const signal of FROM_TERMINAL) process.off(signal, ignore);
      for (const signal of PASSED_ON) process.off(signal, pass);
      resolve(code);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      err.write(`shoal runtime: cannot run ${runtimePath}: ${error.code === 'ENOENT' ? 'not found (build it with src/runtime/shim/build.sh)' : error.message}\n`);
      done(127);
    });
    // As a shell reports it: 128 + the signal's number when a signal ended the runtime.
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
