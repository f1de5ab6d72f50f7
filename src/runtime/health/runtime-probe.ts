/**
 * The probe a worker uses: each check runs as `shoal-runtime --root ROOT exec ID ARGV...`
 * (../container/runtime-exec.ts), which joins the running container (exec.c) with its process
 * settings and exits with the command's exit code. stdout and stderr are collected together, as
 * Docker's health log shows them; a check that times out or whose monitor stops is killed with
 * everything it started.
 */
import { runtimeExec } from '../container/runtime-exec.js';
import { MAX_OUTPUT_BYTES, timeoutResult, type Probe } from './monitor.js';

export function probeWithRuntime(runtimePath: string, root: string, id: string): Probe {
  return async (argv, timeoutMs, signal) => {
    // One byte past the cap is kept so that capOutput knows there was more.
    const result = await runtimeExec({ runtimePath, root, id }, argv, { timeoutMs, signal, maxOutputBytes: MAX_OUTPUT_BYTES + 1 });
    return result.timedOut ? timeoutResult(timeoutMs) : { exitCode: result.exitCode, output: result.output };
  };
}
