/**
 * `shoal image` through its run function, against a real registry (Debian's docker-registry on
 * loopback) holding the busybox base image; and its reference in docs/cli.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../cli/io.js';
import { LocalRegistry } from '../../src/runtime/image/testing/local-registry.js';
import { runGroup } from '../cli/command.js';
import { imageGroup } from './image.js';
import { StoreProcess } from '../../src/runtime/image/testing/store-process-handle.js';
import { waitFor } from '../../test/support/wait-for.js';

const execFileP = promisify(execFile);
let registry: LocalRegistry;
let work: string;

beforeAll(async () => {
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
  work = await mkdtemp(join(tmpdir(), 'shoal-image-cli-'));
});
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `shoal image ARGV` with captured output; the clock is fixed so CREATED is stable. */
function startShoalImage(argv: string[]): { done: Promise<{ code: number; out: string; err: string }>; err: () => string } {
  let out = '';
  let err = '';
  const io: Io = {
    out: { write: (t) => void (out += t), isTTY: false },
    err: { write: (t) => void (err += t), isTTY: false },
    env: {},
    now: () => Date.parse('2030-01-01T00:00:00Z'),
    sleep: async () => undefined,
    interrupted: () => new Promise(() => undefined),
  };
  const done = runGroup(imageGroup, argv, io, undefined).then((code) => ({ code, out, err }));
  return { done, err: () => err };
}

const shoalImage = (...argv: string[]) => startShoalImage(argv).done;

describe('shoal image', () => {
  it('pull prints a line per layer, ls lists the image, rm untags and deletes its blobs and layer', async () => {
    const state = join(work, 'state-pull');
    const ref = `${registry.host}/busybox:1.0`;
    const pulled = await shoalImage('pull', '--state-dir', state, ref);
    expect(pulled).toMatchObject({ code: 0, err: '' });
    const lines = pulled.out.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${ref}: 1 layer, manifest sha256:[a-f0-9]{64}$`));
    expect(lines[1]).toMatch(/^[a-f0-9]{12}: Downloaded \d+(\.\d+)?[KM]iB$/);
    expect(lines[2]).toMatch(/^[a-f0-9]{12}: Unpacked$/);
    expect(lines[3]).toMatch(new RegExp(`^Pulled ${ref} \\(id [a-f0-9]{12}\\)$`));

    const again = await shoalImage('pull', '--state-dir', state, ref);
    expect(again.out).toContain(': Already downloaded\n');
    expect(again.out).toContain(': Already unpacked\n');

    const ls = await shoalImage('ls', '--state-dir', state);
    expect(ls.code).toBe(0);
    const [header, row, ...rest] = ls.out.trim().split('\n');
    expect(header).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    expect(row).toMatch(new RegExp(`^${registry.host}/busybox +1\\.0 +[a-f0-9]{12} +\\S.* ago +\\d+(\\.\\d+)?[KM]iB$`));
    expect(rest).toEqual([]);
    const quiet = await shoalImage('ls', '-q', '--state-dir', state);
    expect(quiet.out).toMatch(/^[a-f0-9]{12}\n$/);

    const removed = await shoalImage('rm', '--state-dir', state, ref, 'absent:1');
    expect(removed.code).toBe(1);
    expect(removed.err).toBe('shoal: no such image: absent:1\n');
    expect(removed.out.split('\n')[0]).toBe(`Untagged: ${ref}`);
    expect(removed.out.match(/^Deleted: sha256:[a-f0-9]{64}$/gm)).toHaveLength(4); // manifest, config, layer blob, layer directory
    expect(await readdir(join(state, 'images/blobs/sha256'))).toEqual([]);
    expect((await shoalImage('ls', '--state-dir', state)).out).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n$/);
  });

  it("rm spares the layers a worker's container runs on, and deletes them once no container does", async () => {
    const state = join(work, 'state-in-use');
    const ref = `${registry.host}/busybox:1.0`;
    expect((await shoalImage('pull', '--state-dir', state, ref)).code).toBe(0);
    const [layer] = await readdir(join(state, 'images/layers'));
    // What the worker's RuntimeExecutor records for each task (src/agent/runtime-executor).
    const taskDir = join(state, 'containers', 'task1');
    await mkdir(taskDir, { recursive: true });
    await writeFile(join(taskDir, 'task.json'), JSON.stringify({ taskId: 'task1', image: { reference: ref, id: 'x', diffIds: [`sha256:${layer}`] }, spec: {} }));

    expect((await shoalImage('rm', '--state-dir', state, ref)).code).toBe(0);
    expect(await readdir(join(state, 'images/layers'))).toContain(layer);

    await rm(taskDir, { recursive: true });
    expect((await shoalImage('pull', '--state-dir', state, ref)).code).toBe(0);
    expect((await shoalImage('rm', '--state-dir', state, ref)).code).toBe(0);
    expect(await readdir(join(state, 'images/layers'))).not.toContain(layer);
  });

  it('load reads a docker save archive and says what it loaded', async () => {
    const state = join(work, 'state-load');
    const policy = join(work, 'policy.json');
    await writeFile(policy, '{"default": [{"type": "insecureAcceptAnything"}]}');
    const archive = join(work, 'saved.tar');
    await execFileP('skopeo', ['--policy', policy, 'copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/busybox:1.0`, `docker-archive:${archive}:busybox:saved`]);
    const loaded = await shoalImage('load', '--state-dir', state, '-i', archive);
    expect(loaded).toEqual({ code: 0, out: 'Loaded image: docker.io/library/busybox:saved\n', err: '' });
    const ls = await shoalImage('ls', '--state-dir', state);
    expect(ls.out.split('\n')[1]).toMatch(/^busybox +saved +[a-f0-9]{12} /);
  });

  it('refuses with one line: a missing tag, a missing archive, a non-archive, a missing -i', async () => {
    const state = join(work, 'state-refuse');
    expect(await shoalImage('pull', '--state-dir', state, `${registry.host}/busybox:nope`)).toEqual({
      code: 1,
      out: '',
      err: `shoal: image not found: ${registry.host}/busybox:nope\n`,
    });
    const absent = join(work, 'absent.tar');
    expect(await shoalImage('load', '--state-dir', state, '-i', absent)).toEqual({ code: 1, out: '', err: `shoal: no such file: ${absent}\n` });
    const junk = join(work, 'junk.tar');
    await writeFile(junk, 'junk');
    expect((await shoalImage('load', '--state-dir', state, '-i', junk)).err).toBe(
      `shoal: unknown archive format: ${junk} is neither an OCI image layout nor a docker save archive\n`,
    );
    expect(await shoalImage('load', '--state-dir', state)).toEqual({
      code: 2,
      out: '',
      err: "shoal image load: --input FILE is required (see 'shoal image load --help')\n",
    });
    expect((await shoalImage('pull', '--state-dir', state)).code).toBe(2);
    expect(existsSync(join(state, 'images/repositories.json'))).toBe(false);
  });

  it("a write waits for the worker's, saying so; ls does not wait", async () => {
    const state = join(work, 'state-wait');
    const worker = new StoreProcess(['hold', join(state, 'images/lock'), 'shoal worker']);
    try {
      await worker.line((l) => l === 'locked');
      expect((await shoalImage('ls', '--state-dir', state)).code).toBe(0);
      const rm = startShoalImage(['rm', '--state-dir', state, 'busybox']);
      const waiting = `Waiting for the image store ${join(state, 'images')}, in use by pid ${worker.pid} (shoal worker)\n`;
      await waitFor('shoal image rm to wait', () => rm.err() === waiting);
      expect(await worker.finish()).toBe(0);
      expect(await rm.done).toEqual({ code: 1, out: '', err: `${waiting}shoal: no such image: busybox\n` });
    } finally {
      await worker.kill();
    }
  });

  it('has help for the group and each command', async () => {
    const group = await shoalImage('--help');
    expect(group.code).toBe(0);
    for (const name of ['pull', 'ls', 'rm', 'load']) {
      expect(group.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect((await shoalImage(name, '--help')).out).toContain(`Usage:  shoal image ${name} `);
    }
  });

  it('is documented in docs/cli.md, every command and flag', () => {
    const docs = readFileSync('docs/cli.md', 'utf8');
    for (const command of imageGroup.commands) {
      expect(docs).toContain(`shoal image ${command.name}`);
      for (const flag of command.flags) expect(docs, `--${flag.name}`).toMatch(new RegExp(`--${flag.name}\\b`));
    }
  });
});
