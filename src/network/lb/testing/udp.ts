/**
 * UDP servers and clients inside test namespaces, each a small node process entered with nsenter:
 * a server answers every datagram with its name, so a client learns which backend it reached; a
 * client sends one datagram from a port it chooses (the same port is the same conntrack flow) and
 * prints the answer. Servers are tracked and stopped by their own pid; nothing is sent outside the
 * test's namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CommandError, runCommand } from '../../overlay/command.js';
import { inNamespace } from '../namespace.js';
import type { Reply } from './tcp.js';

const SERVER = `
const [port, name] = process.argv.slice(1);
const socket = require('node:dgram').createSocket('udp4');
socket.on('message', (_, from) => socket.send(name, from.port, from.address));
socket.bind(Number(port), () => process.stdout.write('ready\\n'));
`;

// Gives up after two seconds: a datagram that reached no server gets no answer.
const CLIENT = `
const [address, port, sourcePort] = process.argv.slice(1);
const socket = require('node:dgram').createSocket('udp4');
const timer = setTimeout(() => { process.stderr.write('timed out'); process.exit(1); }, 2000);
socket.on('message', (reply) => { clearTimeout(timer); process.stdout.write(reply.toString()); socket.close(); });
socket.bind(Number(sourcePort), () => socket.send('who', Number(port), address));
`;

const servers = new Set<ChildProcess>();

/** Starts a server answering datagrams on the port with its name, and waits until it is bound. */
export async function startUdpNameServer(netns: string, port: number, name: string): Promise<void> {
  const [file, ...args] = inNamespace(netns, [process.execPath, '-e', SERVER, String(port), name]);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.add(child);
  child.on('exit', () => servers.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error(`UDP server in ${netns} exited before binding port ${port}`)));
  });
}

/** Stops every server this process started, each by its pid, and waits for them to exit. */
export async function stopUdpServers(): Promise<void> {
  await Promise.all(
    [...servers].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }),
  );
}

/** Sends one datagram from `sourcePort` and returns the name that answered, or the error. */
export async function sendFrom(netns: string, sourcePort: number, address: string, port: number): Promise<Reply> {
  try {
    const out = await runCommand(inNamespace(netns, [process.execPath, '-e', CLIENT, address, String(port), String(sourcePort)]));
    return { name: out };
  } catch (err) {
    if (err instanceof CommandError) return { error: err.stderr.trim() };
    throw err;
  }
}
