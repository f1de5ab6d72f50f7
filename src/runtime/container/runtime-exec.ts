/**
 * One process run in a running container through `shoal-runtime --root ROOT exec ... ID ARGV...`,
 * its output collected and its end awaited: the one way shoal execs, for RuntimeContainer.exec and
 * for the health probe (../health/runtime-probe.ts).
 *
 * The runtime is started in a process group of its own, and the command it execs is its child in
 * that group (exec.c); so a timeout or an abort kills the whole group: the runtime, the command in
 * the container and whatever the command started. Either settles at once, with what was read so
 * far, instead of waiting for the pipes to close, which a process that left the group could keep
 * open for ever.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Which runtime and container: the binary, its state root (--root) and the container's id. */
export interface ExecTarget {
  runtimePath: string;
  root: string;
  id: string;
}

export interface ExecOptions {
  /** `KEY=value` entries: the whole environment of the new process. The container's own when absent. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Kill the process (and the runtime command) after this long; no limit when absent. */
  timeoutMs?: number;
  /** Kills them too, and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Output kept, both streams together; the rest is read and dropped. 1 MiB by default. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  /**
   * The process's exit code (128 + signal if killed), the runtime's own when it could not start
   * it, or -1 when it ran out of time.
   */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, in the order they were read, as Docker's health log shows them. */
  output: string;
  timedOut: boolean;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** The runtime's command line for `opts`. */
export function execArgv(target: ExecTarget, args: string[], opts: ExecOptions = {}): string[] {
  const argv = ['--root', target.root, 'exec'];
  if (opts.cwd !== undefined) argv.push('--cwd', opts.cwd);
  for (const entry of opts.env ?? []) argv.push('--env', entry);
  if (opts.uid !== undefined) argv.push('--user', opts.gid !== undefined ? `${opts.uid}:${opts.gid}` : String(opts.uid));
  argv.push(target.id, ...args);
  return argv;
}

/** Runs `args` in the container; rejects only when the runtime cannot be started or `signal` aborts. */
export function runtimeExec(target: ExecTarget, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { signal } = opts;
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(target.runtimePath, execArgv(target, args, opts), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    // Decoded only at the end, so that a character split between two reads comes out whole.
    const chunks: { stream: 'stdout' | 'stderr'; data: Buffer }[] = [];
    let kept = 0;
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].on('data', (chunk: Buffer) => {
        const data = chunk.subarray(0, Math.max(0, max - kept));
        if (data.length === 0) return;
        chunks.push({ stream, data });
        kept += data.length;
      });
    }
    const result = (exitCode: number, timedOut: boolean): ExecResult => {
      const text = (stream?: 'stdout' | 'stderr'): string =>
        Buffer.concat(chunks.filter((c) => stream === undefined || c.stream === stream).map((c) => c.data)).toString('utf8');
      return { exitCode, stdout: text('stdout'), stderr: text('stderr'), output: text(), timedOut };
    };

    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group has gone already.
      }
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (!settle()) return;
            killGroup();
            resolve(result(-1, true));
          }, opts.timeoutMs);
    const onAbort = (): void => {
      if (!settle()) return;
      killGroup();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort);

    child.on('error', (err) => {
      if (settle()) reject(new Error(`${target.runtimePath}: ${err.message}`));
    });
    // 'close' comes after both pipes have drained, so the output is complete.
    child.on('close', (code, sig) => {
      if (settle()) resolve(result(code ?? (sig ? 128 + constants.signals[sig] : -1), false));
    });
  });
}
