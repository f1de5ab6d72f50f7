import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Runs the built command, as a user would (`make test` builds before testing). The client
// commands against a manager are tested in cmd/cli/cli.test.ts.
const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cmd/shoal.js', ...args], { encoding: 'utf8' });

describe('shoal command', () => {
  it('prints its version from package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const argv of [['version'], ['--version'], ['-v']]) {
      const r = run(...argv);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(`shoal ${pkg.version}`);
    }
  });

  it('refuses an unknown command with one clear line and exit 2', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(["shoal: unknown command 'frobnicate'; see 'shoal help'"]);
  });

  it('refuses an unknown global flag with exit 2', () => {
    const r = run('--frob', 'service', 'ls');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("shoal: unknown flag: --frob; see 'shoal help'\n");
  });

  it('lists every command group and the daemons in its help', () => {
    const r = run('help');
    expect(r.status).toBe(0);
    for (const command of ['cluster', 'node', 'service', 'stack', 'manager', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(run().stdout).toBe(r.stdout);
    expect(run('--help').stdout).toBe(r.stdout);
  });

  it('has help for every group and command, also through `shoal help`', () => {
    const group = run('service', '--help');
    expect(group.status).toBe(0);
    expect(group.stdout).toMatch(/^Usage: {2}shoal service COMMAND\n/);
    for (const sub of ['create', 'inspect', 'ls', 'ps', 'rm', 'rollback', 'scale', 'update']) expect(group.stdout).toMatch(new RegExp(`^  ${sub} +\\S`, 'm'));

    const create = run('service', 'create', '--help');
    expect(create.status).toBe(0);
    expect(create.stdout).toMatch(/^Usage: {2}shoal service create \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n/);
    expect(create.stdout).toMatch(/^ {6}--update-failure-action string +Action on update failure/m);
    expect(create.stdout).toMatch(/^ {2}-H, --host url +Manager to talk to/m);
    expect(run('help', 'service', 'create').stdout).toBe(create.stdout);

    for (const [g, c] of [['node', 'update'], ['stack', 'deploy'], ['cluster', 'info']] as const) {
      const r = run(g, c, '--help');
      expect(r.status, `${g} ${c}`).toBe(0);
      expect(r.stdout).toContain(`Usage:  shoal ${g} ${c} `);
    }
    expect(run('help', 'nothing').status).toBe(2);
  });

  it('hands `shoal manager` to the manager daemon', () => {
    const r = run('manager', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: shoal manager /);
  });
});
