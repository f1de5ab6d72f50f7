/**
 * Runs one program (ip, bridge, nsenter) without a shell, optionally feeding it stdin (the
 * `-batch -` form), and fails with the program's own stderr, which is what tells an operator why
 * the kernel refused (`RTNETLINK answers: File exists`).
 */
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (exit code ${exitCode ?? 'none'}): ${stderr.trim() || 'no message'}`);
    this.name = 'CommandError';
  }
}

export async function runCommand(argv: readonly string[], input?: string): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand: empty command line');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(argv, code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.stdin.end(input ?? '');
  });
}
