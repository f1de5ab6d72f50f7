/**
 * TCP servers and clients inside test namespaces, with busybox's nc: a server answers every
 * connection with its name and closes, so a client learns which backend it reached. Servers are
 * tracked and stopped by their own pid; nothing listens or connects outside the test's namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError, runCommand } from '../../overlay/command.js';
import { inNamespace } from '../namespace.js';

/** A short tag unique to this run, starting every namespace name the test makes. */
export function lbTestTag(): string {
  return `lbt${randomBytes(3).toString('hex')}`;
}

const servers = new Set<ChildProcess>();

/** Starts `nc -ll -p PORT -e echo NAME` in the namespace and waits until it listens. */
export async function startNameServer(netns: string, port: number, name: string): Promise<void> {
  const [file, ...args] = inNamespace(netns, ['busybox', 'nc', '-ll', '-p', String(port), '-e', 'echo', name]);
  const child = spawn(file!, args, { stdio: 'ignore' });
  servers.add(child);
  child.on('exit', () => servers.delete(child));
  for (let i = 0; i < 100; i++) {
    const listening = await runCommand(inNamespace(netns, ['busybox', 'netstat', '-ltn']));
    if (new RegExp(`:${port}\\s`).test(listening)) return;
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`nc in ${netns} is not listening on ${port}`);
}

/** Stops every server this process started, each by its pid, and waits for them to exit. */
export async function stopServers(): Promise<void> {
  await Promise.all(
    [...servers].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** What a connection got: the server's name, or the client's error (`Connection refused`, `timed out`). */
export type Reply = { name: string } | { error: string };

export async function connect(netns: string, address: string, port: number): Promise<Reply> {
  try {
    const out = await runCommand(inNamespace(netns, ['busybox', 'nc', '-w', '2', address, String(port)]));
    return { name: out.trim() };
  } catch (err) {
    if (err instanceof CommandError) return { error: err.stderr.trim() };
    throw err;
  }
}

/** The names reached by `count` connections in a row. */
export async function namesReached(netns: string, address: string, port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await connect(netns, address, port);
    if (!('name' in reply)) throw new Error(`connection ${i + 1} to ${address}:${port} from ${netns} failed: ${reply.error}`);
    names.push(reply.name);
  }
  return names;
}
