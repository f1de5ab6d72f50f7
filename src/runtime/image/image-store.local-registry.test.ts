/**
 * The image store against a real registry (Debian's docker-registry on loopback) holding the real
 * busybox base image, and against archives of that image written by skopeo.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CorruptArchiveError, UnknownArchiveFormatError } from './archive/read-archive.js';
import { ImageNotFoundError } from './errors.js';
import { ImageStore, NoSuchImageError, type ImageStoreEvent } from './image-store.js';
import { RegistryClient } from './registry-client.js';
import { LocalRegistry } from './testing/local-registry.js';

const run = promisify(execFile);
let registry: LocalRegistry;
let work: string;
let stateDir: string;
const client = new RegistryClient({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });

beforeAll(async () => {
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
});
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-image-store-'));
  stateDir = join(work, 'state');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** skopeo copy from the local registry to DEST, with a trust policy of our own. */
async function skopeoCopy(tag: string, dest: string): Promise<void> {
  const policy = join(work, 'policy.json');
  await writeFile(policy, '{"default": [{"type": "insecureAcceptAnything"}]}');
  await run('skopeo', ['--policy', policy, 'copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/busybox:${tag}`, dest]);
}

const blobCount = async (): Promise<number> => (existsSync(join(stateDir, 'images/blobs/sha256')) ? (await readdir(join(stateDir, 'images/blobs/sha256'))).length : 0);

describe('image store: pull, ls, rm, gc', () => {
  it('pulls busybox: blobs stored, the layer unpacked once with bin/busybox, config and listing given', async () => {
    const store = new ImageStore(stateDir, { client });
    const events: ImageStoreEvent[] = [];
    const image = await store.pull(`${registry.host}/busybox:1.0`, { onEvent: (e) => events.push(e) });
    expect(image.name).toBe(`${registry.host}/busybox:1.0`);
    expect(image.layerDirs).toHaveLength(1);
    expect(existsSync(join(image.layerDirs[0]!, 'bin/busybox'))).toBe(true);
    expect(image.config.cmd).toEqual(['/bin/sh']);
    expect(events.filter((e) => e.kind === 'unpacked')).toEqual([expect.objectContaining({ alreadyPresent: false })]);
    expect(await blobCount()).toBe(3); // manifest, config, layer
    expect(await readdir(join(stateDir, 'images/layers/tmp'))).toEqual([]);

    const got = await store.get(`${registry.host}/busybox:1.0`);
    expect(got).toEqual(image);
    expect(await store.get(image.id.slice('sha256:'.length, 'sha256:'.length + 12))).toEqual(image);
    const [listed, ...more] = await store.list();
    expect(more).toEqual([]);
    expect(listed).toMatchObject({ name: `${registry.host}/busybox:1.0`, id: image.id });
    expect(listed!.size).toBeGreaterThan(100_000);
  });

  it('pulling again fetches and unpacks nothing; the zstd variant reuses the same unpacked layer', async () => {
    const store = new ImageStore(stateDir, { client });
    const first = await store.pull(`${registry.host}/busybox:1.0`);
    const events: ImageStoreEvent[] = [];
    await store.pull(`${registry.host}/busybox:1.0`, { onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'done' || e.kind === 'unpacked').every((e) => 'alreadyPresent' in e && e.alreadyPresent)).toBe(true);
    expect(events.some((e) => e.kind === 'progress')).toBe(false);

    const zstd = await store.pull(`${registry.host}/busybox:1.0-zstd`);
    expect(zstd.layerDirs).toEqual(first.layerDirs);
    expect(await readdir(join(stateDir, 'images/layers'))).toHaveLength(2); // the layer and tmp/
    expect((await store.list()).map((i) => i.name).sort()).toEqual([`${registry.host}/busybox:1.0`, `${registry.host}/busybox:1.0-zstd`]);
  });

  it('rm forgets the name; gc then deletes only what no image or container needs', async () => {
    let inUse: string[] = [];
    const store = new ImageStore(stateDir, { client, inUse: async () => inUse });
    const gzip = await store.pull(`${registry.host}/busybox:1.0`);
    await store.pull(`${registry.host}/busybox:1.0-zstd`);
    expect(await blobCount()).toBe(5); // two manifests, the shared config, two layer blobs

    expect(await store.remove(`${registry.host}/busybox:1.0`)).toEqual([`${registry.host}/busybox:1.0`]);
    await expect(store.get(`${registry.host}/busybox:1.0`)).rejects.toThrow(new NoSuchImageError(`${registry.host}/busybox:1.0`));
    const first = await store.gc();
    expect(first.blobs).toHaveLength(2); // the gzip manifest and layer
    expect(first.layers).toEqual([]); // the zstd image has the same DiffID
    expect(existsSync(join(gzip.layerDirs[0]!, 'bin/busybox'))).toBe(true);

    await store.remove(`${registry.host}/busybox:1.0-zstd`);
    inUse = [`sha256:${gzip.layerDirs[0]!.split('/').at(-1)}`];
    expect((await store.gc()).layers).toEqual([]);
    expect(await blobCount()).toBe(0);
    expect(existsSync(gzip.layerDirs[0]!)).toBe(true);
    inUse = [];
    expect((await store.gc()).layers).toHaveLength(1);
    expect(existsSync(gzip.layerDirs[0]!)).toBe(false);
    expect(await store.list()).toEqual([]);
  });

  it('says image not found for a missing tag, and no such image for one not on the node', async () => {
    const store = new ImageStore(stateDir, { client });
    await expect(store.pull(`${registry.host}/busybox:nope`)).rejects.toThrow(new ImageNotFoundError(`${registry.host}/busybox:nope`));
    await expect(store.remove('busybox')).rejects.toThrow('no such image: busybox');
    await expect(store.get('busybox')).rejects.toBeInstanceOf(NoSuchImageError);
  });
});

describe('image store: load', () => {
  it('loads an OCI archive written by skopeo, named by its reference', async () => {
    const archive = join(work, 'busybox-oci.tar');
    await skopeoCopy('1.0', `oci-archive:${archive}:${registry.host}/saved:oci`);
    const store = new ImageStore(stateDir, { client });
    const [image, ...more] = await store.load(archive);
    expect(more).toEqual([]);
    expect(image!.name).toBe(`${registry.host}/saved:oci`);
    expect(existsSync(join(image!.layerDirs[0]!, 'bin/busybox'))).toBe(true);
    expect(image!.config.cmd).toEqual(['/bin/sh']);
    // The same image pulled afterwards needs nothing new.
    const events: ImageStoreEvent[] = [];
    await store.pull(`${registry.host}/busybox:1.0`, { onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'done' || e.kind === 'unpacked').every((e) => 'alreadyPresent' in e && e.alreadyPresent)).toBe(true);
    expect(await readdir(join(stateDir, 'images/staging'))).toEqual([]);
  });

  it('loads a docker save archive written by skopeo, named by its RepoTags', async () => {
    const archive = join(work, 'busybox-docker.tar');
    await skopeoCopy('1.0', `docker-archive:${archive}:saved/busybox:docker`);
    const store = new ImageStore(stateDir, { client });
    const [image] = await store.load(archive);
    expect(image!.name).toBe('docker.io/saved/busybox:docker');
    expect(existsSync(join(image!.layerDirs[0]!, 'bin/busybox'))).toBe(true);
    expect(await store.get('saved/busybox:docker')).toEqual(image);
    // Same config, same DiffID as the pulled image: one id, one layer directory.
    const pulled = await store.pull(`${registry.host}/busybox:1.0`);
    expect(pulled.id).toBe(image!.id);
    expect(pulled.layerDirs).toEqual(image!.layerDirs);
  });

  it('refuses a file that is no image archive, and a missing file', async () => {
    const store = new ImageStore(stateDir, { client });
    const junk = join(work, 'junk');
    await writeFile(junk, 'not a tar at all\n'.repeat(100));
    await expect(store.load(junk)).rejects.toThrow(new UnknownArchiveFormatError(junk));
    const dir = join(work, 'plain');
    await mkdir(dir);
    await writeFile(join(dir, 'hello.txt'), 'hello');
    const plainTar = join(work, 'plain.tar');
    await run('tar', ['-cf', plainTar, '-C', dir, '.']);
    await expect(store.load(plainTar)).rejects.toBeInstanceOf(UnknownArchiveFormatError);
    await expect(store.load(join(work, 'absent.tar'))).rejects.toThrow(`no such file: ${join(work, 'absent.tar')}`);
  });

  it('refuses an OCI archive whose layer blob was altered, and stores nothing', async () => {
    const layout = join(work, 'layout');
    await skopeoCopy('1.0', `oci:${layout}:1.0`);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const layerPath = join(layout, 'blobs/sha256', manifest.layers[0]!.digest.slice(7));
    const bytes = await readFile(layerPath);
    bytes[100] ^= 0xff;
    await writeFile(layerPath, bytes);
    const archive = join(work, 'rotten.tar');
    await run('tar', ['-cf', archive, '-C', layout, '.']);
    const store = new ImageStore(stateDir, { client });
    const error = await store.load(archive).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect((error as Error).message).toMatch(new RegExp(`^corrupt archive ${archive}: blob ${manifest.layers[0]!.digest} has digest sha256:[a-f0-9]{64}$`));
    expect(await blobCount()).toBe(0);
    expect(await store.list()).toEqual([]);
  });
});

describe('image store: load, more archives', () => {
  it('loads a gzip-compressed docker save archive, and an unnamed OCI archive kept under its id', async () => {
    const archive = join(work, 'busybox-docker.tar');
    await skopeoCopy('1.0', `docker-archive:${archive}:busybox:gz`);
    await run('gzip', [archive]);
    const store = new ImageStore(stateDir, { client });
    const [named] = await store.load(`${archive}.gz`);
    expect(named!.name).toBe('docker.io/library/busybox:gz');

    const unnamedArchive = join(work, 'unnamed.tar');
    await skopeoCopy('1.0', `oci-archive:${unnamedArchive}`);
    const [unnamed] = await store.load(unnamedArchive);
    expect(unnamed!.name).toBeUndefined();
    expect(unnamed!.id).toBe(named!.id);
    await store.load(unnamedArchive);
    expect((await store.list()).map((i) => i.name)).toEqual(['docker.io/library/busybox:gz', undefined]);
    // By id, every record of the image goes.
    expect(await store.remove(unnamed!.id.slice(7, 19))).toEqual(['docker.io/library/busybox:gz', unnamed!.id]);
    expect(await store.list()).toEqual([]);
  });

  it('refuses a docker save archive whose layer does not match the DiffID its config gives, recording nothing', async () => {
    const archive = join(work, 'busybox-docker.tar');
    await skopeoCopy('1.0', `docker-archive:${archive}:busybox:bad`);
    const dir = join(work, 'unpacked');
    await mkdir(dir);
    await run('tar', ['-xf', archive, '-C', dir]);
    const [entry] = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { Config: string }[];
    const config = JSON.parse(await readFile(join(dir, entry!.Config), 'utf8')) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids = [`sha256:${'0'.repeat(64)}`];
    await writeFile(join(dir, entry!.Config), JSON.stringify(config));
    const bad = join(work, 'bad.tar');
    await run('tar', ['-cf', bad, '-C', dir, '.']);
    const store = new ImageStore(stateDir, { client });
    await expect(store.load(bad)).rejects.toThrow(/^cannot unpack layer sha256:[a-f0-9]{64} of docker\.io\/library\/busybox:bad: layer content has DiffID sha256:[a-f0-9]{64}, the image config says sha256:0{64}$/);
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(stateDir, 'images/layers/tmp'))).toEqual([]);
    // What it stored before the check is garbage for gc.
    await store.gc();
    expect(await blobCount()).toBe(0);
  });
});
