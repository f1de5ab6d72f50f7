/**
 * The image store with a second process on the same state directory (testing/store-process.ts,
 * built by `npm run build`): writes wait for each other, reads do not, and what a write killed
 * halfway leaves behind is removed by the next write, not by a reader.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.js';
import { ImageStore } from './image-store.js';
import { OCI_CONFIG, OCI_MANIFEST } from './media-types.js';
import { RegistryClient } from './registry-client.js';
import { ImageStoreBusyError, type LockHolder } from './store-lock.js';
import { FakeRegistry } from './testing/fake-registry.js';
import { StoreProcess } from './testing/store-process-handle.js';
import { tarArchive } from './unpack/testing/tar-writer.js';

const client = new RegistryClient({ retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
let registry: FakeRegistry;
let work: string;
let stateDir: string;
let images: string;
let reference: string;
let layerDigest: string;
const children: StoreProcess[] = [];

/** app:1, one gzip layer holding a 1 MiB file of random bytes (so that gzip cannot shrink it). */
function addImage(): void {
  const tar = tarArchive([{ path: 'data', content: randomBytes(1 << 20) }]);
  const layer = gzipSync(tar);
  layerDigest = registry.addBlob('app', layer);
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/data'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: registry.addBlob('app', config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
  };
  registry.addManifest('app', manifest, OCI_MANIFEST, '1');
  reference = `${registry.host}/app:1`;
}

beforeEach(async () => {
  registry = await FakeRegistry.start();
  addImage();
  work = await mkdtemp(join(tmpdir(), 'shoal-store-processes-'));
  stateDir = join(work, 'state');
  images = join(stateDir, 'images');
});
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
  await registry.close();
  await rm(work, { recursive: true, force: true });
});

function start(args: string[]): StoreProcess {
  const child = new StoreProcess(args);
  children.push(child);
  return child;
}

const listing = async (dir: string): Promise<string[]> => (existsSync(dir) ? (await readdir(dir)).sort() : []);

describe('image store with another process on the state directory', () => {
  it("a write waits for the other process's write and then runs; reads go on meanwhile", async () => {
    const store = new ImageStore(stateDir, { client });
    await store.pull(reference);
    const worker = start(['hold', join(images, 'lock'), 'shoal worker']);
    await worker.line((l) => l === 'locked');

    expect((await store.list()).map((i) => i.name)).toEqual([reference]);
    expect((await store.get(reference)).config.cmd).toEqual(['/data']);
    const impatient = new ImageStore(stateDir, { client, lockTimeoutMs: 0 });
    const refused = await impatient.remove(reference).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ImageStoreBusyError);
    expect((refused as Error).message).toBe(`image store ${images} is in use by pid ${worker.pid} (shoal worker)`);

    let told!: (holder: LockHolder) => void;
    const waiting = new Promise<LockHolder>((resolve) => (told = resolve));
    const patient = new ImageStore(stateDir, { client, onLockWait: (holder) => told(holder) });
    const removing = patient.remove(reference);
    expect(await waiting).toMatchObject({ pid: worker.pid, owner: 'shoal worker' });
    expect((await store.list()).map((i) => i.name)).toEqual([reference]);
    expect(await worker.finish()).toBe(0);
    expect(await removing).toEqual([reference]);
    expect(await store.list()).toEqual([]);
  });

  it('after a pull killed mid-download, a reader leaves its files alone; the next write removes them and pulls', async () => {
    registry.faults.push({ pathEndsWith: layerDigest, kind: 'stall-body', times: 1 });
    const puller = start(['pull', stateDir, reference]);
    await puller.line((l) => l.includes('"kind":"progress"'));
    const ingest = join(images, 'blobs/ingest');
    await waitFor('the partial layer in the ingest directory', async () => {
      const [file] = await listing(ingest);
      return file !== undefined && (await stat(join(ingest, file))).size > 0;
    });
    await puller.kill();
    const [partial] = await listing(ingest);
    expect(partial).toMatch(new RegExp(`^${layerDigest.slice('sha256:'.length)}\\.`));
    const [generation] = await listing(join(images, 'lock'));
    expect(JSON.parse(await readlink(join(images, 'lock', generation!)))).toMatchObject({ pid: puller.pid, owner: 'test pull' });
    // What a crash during an unpack, a load or a records write would have left.
    await mkdir(join(images, 'layers/tmp/0123abcd.5f5f5f/etc'), { recursive: true });
    await writeFile(join(images, 'layers/tmp/0123abcd.5f5f5f/etc/passwd'), 'half');
    await mkdir(join(images, 'staging/a1b2c3'), { recursive: true });
    await writeFile(join(images, 'staging/a1b2c3/blob'), 'half');
    await writeFile(join(images, 'repositories.json.tmp'), '{"version": 1, "ima');

    const store = new ImageStore(stateDir, { client });
    expect(await store.list()).toEqual([]);
    expect(await listing(ingest)).toEqual([partial]);
    expect(await listing(join(images, 'layers/tmp'))).toEqual(['0123abcd.5f5f5f']);

    const image = await store.pull(reference);
    expect(await listing(ingest)).toEqual([]);
    expect(await listing(join(images, 'layers/tmp'))).toEqual([]);
    expect(await listing(join(images, 'staging'))).toEqual([]);
    expect(await listing(images)).not.toContain('repositories.json.tmp');
    expect((await store.list()).map((i) => i.name)).toEqual([reference]);
    expect((await readFile(join(image.layerDirs[0]!, 'data'))).length).toBe(1 << 20);
    expect(await Promise.all((await listing(join(images, 'lock'))).map((g) => readlink(join(images, 'lock', g))))).toEqual(['free']);
  });
});
