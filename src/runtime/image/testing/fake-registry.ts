/**
 * A fake OCI registry on 127.0.0.1 for unit tests: serves manifests and blobs from memory, can
 * demand bearer tokens from its own fake token endpoint (`/token`), and can inject faults (5xx
 * answers, connections cut mid-body, bodies that stop halfway and hang) so that retries, refusals
 * and a client killed mid-download can be tested exactly.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** Applies to requests whose path ends with this (for example a digest or `manifests/latest`). */
  pathEndsWith: string;
  kind: 'status-503' | 'cut-body' | 'stall-body' | 'corrupt';
  /** How many requests it applies to; Infinity for all. */
  times: number;
}

export interface TokenAuthConfig {
  /** Basic credentials the token endpoint demands; anonymous tokens when absent. */
  credentials?: { username: string; password: string };
  expiresIn?: number;
}

interface Stored {
  body: Buffer;
  contentType: string;
}

export const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export class FakeRegistry {
  readonly requests: { method: string; path: string; authorization?: string }[] = [];
  readonly tokenRequests: { query: URLSearchParams; authorization?: string }[] = [];
  readonly faults: Fault[] = [];
  tokenAuth?: TokenAuthConfig;
  private readonly manifests = new Map<string, Stored>();
  private readonly blobs = new Map<string, Buffer>();
  private readonly issued = new Map<string, string>();
  private inFlightBlobs = 0;
  maxInFlightBlobs = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeRegistry> {
    const server = createServer();
    const registry = new FakeRegistry(server);
    server.on('request', (req, res) => registry.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return registry;
  }

  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  addBlob(repo: string, data: Buffer): string {
    const digest = digestOf(data);
    this.blobs.set(`${repo}@${digest}`, data);
    return digest;
  }

  /** Stores a manifest under its digest and, when given, a tag; returns its digest. */
  addManifest(repo: string, doc: unknown, contentType: string, tag?: string): string {
    const body = Buffer.from(JSON.stringify(doc));
    const digest = digestOf(body);
    this.manifests.set(`${repo}@${digest}`, { body, contentType });
    if (tag !== undefined) this.manifests.set(`${repo}:${tag}`, { body, contentType });
    return digest;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(path: string): Fault | undefined {
    const fault = this.faults.find((f) => f.times > 0 && path.endsWith(f.pathEndsWith));
    if (fault) fault.times--;
    return fault;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname === '/token') return this.token(req, res, url.searchParams);
    const authorization = req.headers.authorization;
    this.requests.push({ method: req.method ?? '', path: url.pathname, ...(authorization ? { authorization } : {}) });
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const [, repo, kind, key] = m as unknown as [string, string, string, string];
    if (this.tokenAuth) {
      const scope = `repository:${repo}:pull`;
      const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      if (!token || this.issued.get(token) !== scope) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake-registry",scope="${scope}"`,
          'content-type': 'application/json',
        });
        return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      }
    }
    const fault = this.takeFault(url.pathname);
    if (fault?.kind === 'status-503') return void res.writeHead(503).end();
    const stored =
      kind === 'manifests'
        ? this.manifests.get(key.startsWith('sha256:') ? `${repo}@${key}` : `${repo}:${key}`)
        : (() => {
            const blob = this.blobs.get(`${repo}@${key}`);
            return blob && { body: blob, contentType: 'application/octet-stream' };
          })();
    if (!stored) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ code: kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN' }] }));
    }
    let body = stored.body;
    if (fault?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[body.length - 1] ^= 0xff;
    }
    const headers: Record<string, string | number> = { 'content-type': stored.contentType, 'content-length': body.length };
    if (kind === 'manifests') headers['docker-content-digest'] = digestOf(stored.body);
    res.writeHead(200, headers);
    if (fault?.kind === 'cut-body') {
      // Half the promised bytes, then the connection dies: the client sees a broken body.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    }
    if (fault?.kind === 'stall-body') {
      // Half the promised bytes, then nothing until the registry is closed.
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return;
    }
    if (kind === 'blobs') {
      this.inFlightBlobs++;
      this.maxInFlightBlobs = Math.max(this.maxInFlightBlobs, this.inFlightBlobs);
      // Sent on the next turn, so that downloads meant to overlap do overlap.
      setImmediate(() => {
        res.end(body);
        this.inFlightBlobs--;
      });
      return;
    }
    res.end(body);
  }

  private token(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    const authorization = req.headers.authorization;
    this.tokenRequests.push({ query, ...(authorization ? { authorization } : {}) });
    const want = this.tokenAuth?.credentials;
    if (want) {
      const expected = `Basic ${Buffer.from(`${want.username}:${want.password}`).toString('base64')}`;
      if (authorization !== expected) return void res.writeHead(401).end();
    }
    const token = `fake-token-${this.issued.size + 1}`;
    this.issued.set(token, query.get('scope') ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: this.tokenAuth?.expiresIn ?? 300 }));
  }
}
