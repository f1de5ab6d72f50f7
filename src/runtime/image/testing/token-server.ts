/**
 * A fake token server for the real registry's token auth: on loopback, it grants whatever scope it
 * is asked for (optionally only to one basic-auth user) as a JWT signed with a throwaway P-256 key
 * whose self-signed certificate the registry is configured to trust. The JWT's shape follows
 * distribution's token spec (iss, aud, exp, access; the certificate in the x5c header).
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export class FakeTokenServer {
  /** Every token request: its scope and whether it carried credentials. */
  readonly requests: { scope: string | null; authorization?: string }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly key: KeyObject,
    private readonly certDer: Buffer,
    readonly certPath: string,
    readonly issuer: string,
    readonly service: string,
    private readonly user?: { username: string; password: string },
  ) {}

  /** Creates a key and certificate in `dir` and listens on a loopback port. */
  static async start(dir: string, user?: { username: string; password: string }): Promise<FakeTokenServer> {
    const keyPath = join(dir, 'token.key');
    const certPath = join(dir, 'token.crt');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=shoal-test-token-issuer',
    ]);
    const key = createPrivateKey(await readFile(keyPath));
    const certDer = new X509Certificate(await readFile(certPath)).raw;
    const server = createServer();
    const tokens = new FakeTokenServer(server, key, certDer, certPath, 'shoal-test-issuer', 'shoal-test-registry', user);
    server.on('request', (req, res) => tokens.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return tokens;
  }

  get realm(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/token`;
  }

  /** A token for `scope`, as the server would hand out (for pushing test content). */
  issue(scope: string): string {
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [this.certDer.toString('base64')] };
    const claims = {
      iss: this.issuer,
      sub: this.user?.username ?? '',
      aud: this.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: type && name && actions ? [{ type, name, actions: actions.split(',') }] : [],
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const authorization = req.headers.authorization;
    this.requests.push({ scope: url.searchParams.get('scope'), ...(authorization ? { authorization } : {}) });
    if (this.user) {
      const expected = `Basic ${Buffer.from(`${this.user.username}:${this.user.password}`).toString('base64')}`;
      if (authorization !== expected) return void res.writeHead(401).end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: this.issue(url.searchParams.get('scope') ?? ''), expires_in: 300 }));
  }
}
