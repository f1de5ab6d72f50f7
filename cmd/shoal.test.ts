import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Runs the built command, as a user would (`make test` builds before testing).
const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cmd/shoal.js', ...args], { encoding: 'utf8' });

describe('shoal command', () => {
  it('prints its version from package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = run('version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`shoal ${pkg.version}`);
  });

  it('refuses an unknown command with one clear line and exit 2', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(["shoal: unknown command 'frobnicate'; see 'shoal help'"]);
  });
});
