import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTestCgroups, testCgroupName } from '../../src/runtime/cgroups/testing/test-cgroups.js';
import { defaultRuntimePath } from '../../src/runtime/container/runtime-container.js';
import { makeBusyboxRootfs } from '../../src/runtime/container/testing/rootfs.js';
import { runRuntime } from './runtime.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-runtime-cmd-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fake runtime: a shell script standing in for the binary. */
function fakeRuntime(body: string): string {
  const path = join(dir, 'fake-runtime');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('shoal runtime', () => {
  it('passes every argument through unchanged and returns the runtime’s exit code', async () => {
    const out = join(dir, 'argv');
    const runtimePath = fakeRuntime(`for a in "$@"; do printf '%s\\n' "$a" >> ${out}; done; exit 7`);
    const argv = ['--root', '/tmp/r', 'run', '--bundle', '/b', 'id 1', '--help'];
    expect(await runRuntime(argv, { runtimePath })).toBe(7);
    expect(readFileSync(out, 'utf8')).toBe(`${argv.join('\n')}\n`);
  });

  it('reports 128 + the signal when a signal ended the runtime', async () => {
    expect(await runRuntime([], { runtimePath: fakeRuntime('kill -KILL $$') })).toBe(137);
  });

  it('says when the runtime binary is missing, with exit 127', async () => {
    let said = '';
    const err = { write: (text: string) => void (said += text), isTTY: false };
    expect(await runRuntime(['state', 'x'], { runtimePath: join(dir, 'nothing'), err })).toBe(127);
    expect(said).toBe(`shoal runtime: cannot run ${join(dir, 'nothing')}: not found (build it with src/runtime/shim/build.sh)\n`);
  });
});

describe('shoal runtime with the real runtime (needs root and dist/shim/shoal-runtime)', () => {
  it('writes a template bundle and runs it in the foreground, passing its exit code on', async () => {
    if (!existsSync(defaultRuntimePath())) throw new Error(`${defaultRuntimePath()} is missing: run 'bash src/runtime/shim/build.sh'`);
    const bundle = join(dir, 'bundle');
    const root = join(dir, 'state');
    makeBusyboxRootfs(join(bundle, 'rootfs'));
    expect(await runRuntime(['spec', '--bundle', bundle])).toBe(0);
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      root: { path: string };
      process: { args: string[] };
      linux: { cgroupsPath?: string };
    };
    expect(config.root.path).toBe('rootfs');
    config.process.args = ['sh', '-c', 'exit 4'];
    // Under a parent of the test's own, removed after: the default /shoal/<id> would stay behind.
    const cgroupParent = testCgroupName();
    config.linux.cgroupsPath = `/${cgroupParent}/cli-1`;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));

    try {
      expect(await runRuntime(['--root', root, 'run', '--bundle', bundle, 'cli-1'])).toBe(4);
      // A foreground run is deleted when it ends, as with runc.
      expect(existsSync(join(root, 'cli-1'))).toBe(false);
    } finally {
      await removeTestCgroups(cgroupParent);
    }
  });
});
