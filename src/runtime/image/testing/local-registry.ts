/**
 * A real registry for tests: Debian's docker-registry started by deploy/images/registry.sh on a
 * free loopback port with its storage in a temporary directory, and the base image built and
 * pushed into it by deploy/images/build-base.sh. Missing packages fail loudly, never skip.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../../common/package-root.js';
import { freePort } from '../../../common/testing/free-port.js';

const run = promisify(execFile);
/** deploy/images, found from the package root so that this works from dist/ too (the benchmarks run there). */
const scripts = join(packageRoot(), 'deploy', 'images');

/** What the scripts need, as `binary: Debian package`. */
const NEEDED: Record<string, string> = {
  '/usr/bin/docker-registry': 'docker-registry',
  '/usr/bin/skopeo': 'skopeo',
  '/usr/bin/umoci': 'umoci',
  '/bin/busybox': 'busybox-static',
  '/usr/bin/jq': 'jq',
  '/usr/bin/zstd': 'zstd',
  '/usr/bin/curl': 'curl',
};

/** How many ports start() tries when the one it picked is taken before the registry binds it. */
const START_ATTEMPTS = 3;

export interface TokenAuthSettings {
  realm: string;
  service: string;
  issuer: string;
  /** A PEM file with the certificate whose key signs the tokens. */
  rootCertBundle: string;
}

export class LocalRegistry {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * With `tokenAuth`, the registry demands bearer tokens from that realm, signed by that
   * certificate's key. `pickPort` chooses each port to try (freePort by default).
   */
  static async start(options: { tokenAuth?: TokenAuthSettings; pickPort?: () => Promise<number> } = {}): Promise<LocalRegistry> {
    const missing = Object.entries(NEEDED).filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
    if (missing.length > 0) {
      throw new Error(`the local registry tests need Debian packages: apt-get install ${[...new Set(missing)].join(' ')}`);
    }
    const auth = options.tokenAuth;
    const env = auth
      ? {
          ...process.env,
          REGISTRY_TOKEN_REALM: auth.realm,
          REGISTRY_TOKEN_SERVICE: auth.service,
          REGISTRY_TOKEN_ISSUER: auth.issuer,
          REGISTRY_TOKEN_ROOTCERT: auth.rootCertBundle,
        }
      : process.env;
    const dir = await mkdtemp(join(tmpdir(), 'shoal-registry-'));
    // A port free when asked can be taken before the registry binds it (by another test's listener
    // or an outgoing connection's source port); a bind lost that way is retried on another port.
    for (let attempt = 1; ; attempt++) {
      const port = await (options.pickPort ?? freePort)();
      try {
        await run(join(scripts, 'registry.sh'), ['start', dir, String(port)], { env });
        return new LocalRegistry(dir, port);
      } catch (e) {
        const lostBind = /already in use/.test((e as { stderr?: string }).stderr ?? '');
        if (lostBind && attempt < START_ATTEMPTS) continue;
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  /** Builds and pushes busybox:TAG and busybox:TAG-zstd; returns tag -> manifest digest. */
  async pushBaseImage(tag = 'latest'): Promise<Map<string, string>> {
    const { stdout } = await run(join(scripts, 'build-base.sh'), [String(this.port), tag]);
    return new Map(stdout.trim().split('\n').map((line) => line.split(' ') as [string, string]));
  }

  /** Where the registry's filesystem driver keeps a blob's bytes (to corrupt them on purpose). */
  blobPath(digest: string): string {
    const hex = digest.slice('sha256:'.length);
    return join(this.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }

  async stop(): Promise<void> {
    try {
      await run(join(scripts, 'registry.sh'), ['stop', this.dir]);
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** The same, synchronously: for a signal handler or an exit hook that cannot wait. */
  stopSync(): void {
    try {
      execFileSync(join(scripts, 'registry.sh'), ['stop', this.dir], { stdio: 'ignore' });
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
