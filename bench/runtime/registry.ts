/**
 * The local registry of deploy/images (Debian's docker-registry on loopback, storage in a temporary
 * directory) with the base image pushed into it, for the full-path benchmark's one untimed pull.
 * src/runtime/image/testing/local-registry.ts does this for tests, but finds the scripts relative to
 * its source file, which does not hold once compiled into dist/; this finds them from the repository.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/runtime/image/testing/local-registry.js';
import { REPO_ROOT } from '../../test/support/daemon-process.js';

const run = promisify(execFile);
const SCRIPTS = join(REPO_ROOT, 'deploy', 'images');

export class BenchRegistry {
  private constructor(
    private readonly dir: string,
    readonly host: string,
  ) {}

  /** Starts the registry with its storage in `dir` (which the caller removes). */
  static async start(dir: string): Promise<BenchRegistry> {
    const port = await freePort();
    await run(join(SCRIPTS, 'registry.sh'), ['start', dir, String(port)]);
    return new BenchRegistry(dir, `127.0.0.1:${port}`);
  }

  /** Builds busybox:TAG from the host's busybox-static and pushes it; returns its reference. */
  async pushBaseImage(tag: string): Promise<string> {
    await run(join(SCRIPTS, 'build-base.sh'), [this.host.split(':')[1]!, tag]);
    return `${this.host}/busybox:${tag}`;
  }

  /** Synchronous, so the benchmark's signal handler can stop it too. */
  stopSync(): void {
    execFileSync(join(SCRIPTS, 'registry.sh'), ['stop', this.dir], { stdio: 'ignore' });
  }
}
