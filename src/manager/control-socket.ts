/**
 * The Control service on the manager's unix socket, for the local `shoal` command. The socket's
 * directory is created 0700 and the socket made 0600, so only its owner (root, in production)
 * can drive the cluster through it. A leftover socket from a manager that died is replaced; one a
 * live manager still answers on is not.
 */
import * as grpc from '@grpc/grpc-js';
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { ControlService, type ControlServer } from '../../proto/gen/control.js';
import { unixSocketAnswers } from '../common/unix-socket.js';

export const DEFAULT_SOCKET_PATH = '/var/run/shoal/shoal.sock';

export class ControlSocket {
  private constructor(
    private readonly server: grpc.Server,
    readonly path: string,
  ) {}

  static async listen(path: string, implementation: ControlServer): Promise<ControlSocket> {
    const dir = dirname(path);
    if (!existsSync(dir)) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new Error(`cannot create the socket directory ${dir}: ${(err as Error).message}; pass --socket PATH`);
      }
    }
    if (existsSync(path)) {
      if (await unixSocketAnswers(path)) throw new Error(`${path} is in use by a running manager; pass another --socket PATH`);
      unlinkSync(path);
    }
    const server = new grpc.Server();
    server.addService(ControlService, implementation);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    ).catch((err: unknown) => {
      server.forceShutdown();
      throw new Error(`cannot listen on ${path}: ${(err as Error).message}`);
    });
    chmodSync(path, 0o600);
    return new ControlSocket(server, path);
  }

  close(): void {
    this.server.forceShutdown();
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to clean.
    }
  }
}
