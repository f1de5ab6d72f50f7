/**
 * The probe a worker uses: each check runs as `shoal-runtime --root ROOT exec ID ARGV...`, which
 * joins the running container (exec.c) with its process settings, and exits with the command's
 * exit code. stdout and stderr are collected together, as Docker's health log shows them.
 *
 * The runtime is started in a process group of its own, and the command it execs is its child in
 * that group; so a probe that times out, or whose monitor stops, is ended by killing the whole
 * group: the runtime, the command in the container and anything the command started.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { MAX_OUTPUT_BYTES, timeoutResult, type Probe, type ProbeResult } from './monitor.js';

export function probeWithRuntime(runtimePath: string, root: string, id: string): Probe {
  return (argv, timeoutMs, signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const child = spawn(runtimePath, ['--root', root, 'exec', id, ...argv], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // One byte past the cap is kept so that capOutput knows there was more.
      const chunks: Buffer[] = [];
      let kept = 0;
      const collect = (chunk: Buffer): void => {
        const room = MAX_OUTPUT_BYTES + 1 - kept;
        if (room <= 0) return;
        chunks.push(chunk.subarray(0, room));
        kept += Math.min(room, chunk.length);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);

      let done = false;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        return true;
      };
      const killGroup = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group has gone already.
        }
      };
      const timer = setTimeout(() => {
        if (!finish()) return;
        killGroup();
        resolve(timeoutResult(timeoutMs));
      }, timeoutMs);
      const onAbort = (): void => {
        if (!finish()) return;
        killGroup();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort);

      child.on('error', (err) => {
        if (finish()) reject(new Error(`${runtimePath}: ${err.message}`));
      });
      // 'close' comes after both pipes have drained, so the output is complete.
      child.on('close', (code, sig) => {
        if (!finish()) return;
        const exitCode = code ?? (sig ? 128 + constants.signals[sig] : -1);
        resolve({ exitCode, output: Buffer.concat(chunks).toString('utf8') });
      });
    });
}
