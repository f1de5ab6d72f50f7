/**
 * The pull client against a real registry (Debian's docker-registry on loopback) holding the real
 * base image built by deploy/images/build-base.sh.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError, ImageNotFoundError } from './errors.js';
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { pullImage } from './pull.js';
import { RegistryClient } from './registry-client.js';
import { LocalRegistry } from './testing/local-registry.js';
import { FakeMemoryBlobWriter } from './testing/memory-blob-writer.js';
import { pushBlob, pushManifest } from './testing/push.js';
import type { PullEvent } from './types.js';

let registry: LocalRegistry;
let digests: Map<string, string>;
const client = new RegistryClient({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });

beforeAll(async () => {
  registry = await LocalRegistry.start();
  digests = await registry.pushBaseImage('1.0');
});
afterAll(async () => {
  await registry?.stop();
});

describe('pull from the local registry', () => {
  it('pulls the busybox base image: a gzip layer holding /bin/busybox and its applets', async () => {
    const writer = new FakeMemoryBlobWriter();
    const events: PullEvent[] = [];
    const pulled = await pullImage(client, writer, `${registry.host}/busybox:1.0`, { onEvent: (e) => events.push(e) });
    expect(pulled.manifestDigest).toBe(digests.get('1.0'));
    expect(pulled.manifest.mediaType).toBe(OCI_MANIFEST);
    const config = JSON.parse(pulled.config.toString()) as { os: string; architecture: string; config: { Cmd: string[] } };
    expect(config).toMatchObject({ os: 'linux', architecture: 'amd64', config: { Cmd: ['/bin/sh'] } });
    expect(pulled.manifest.layers).toHaveLength(1);
    const layer = pulled.manifest.layers[0]!;
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const tar = gunzipSync(writer.blobs.get(layer.digest)!).toString('latin1');
    expect(tar).toContain('bin/busybox');
    expect(tar).toContain('etc/passwd');
    expect(events).toContainEqual({ kind: 'done', digest: layer.digest, total: layer.size, alreadyPresent: false });
  });

  it('pulls the zstd variant: same config, a tar+zstd layer stored as served', async () => {
    const writer = new FakeMemoryBlobWriter();
    const pulled = await pullImage(client, writer, `${registry.host}/busybox:1.0-zstd`);
    expect(pulled.manifestDigest).toBe(digests.get('1.0-zstd'));
    const layer = pulled.manifest.layers[0]!;
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    // The zstd frame magic, 28 b5 2f fd.
    expect(writer.blobs.get(layer.digest)!.subarray(0, 4).toString('hex')).toBe('28b52ffd');
  });

  it('picks linux/amd64 from a multi-platform index pushed to the registry, skipping the attestation', async () => {
    const manifestOf = async (tag: string) =>
      JSON.parse((await (await fetch(`http://${registry.host}/v2/busybox/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } })).text())) as Record<string, unknown>;
    const amd = await manifestOf('1.0');
    const amdBody = JSON.stringify(amd);
    // Other platforms' manifests: the same blobs, told apart by an annotation (the registry only
    // checks that what an index names exists).
    const variant = async (note: string) => {
      const doc = { ...amd, annotations: { 'org.example.note': note } };
      return { digest: await pushManifest(registry.host, 'busybox', doc, OCI_MANIFEST), size: Buffer.byteLength(JSON.stringify(doc)) };
    };
    const arm = await variant('arm64');
    const attestation = await variant('attestation');
    const amdDigest = digests.get('1.0')!;
    const index = await pushManifest(
      registry.host,
      'busybox',
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          {
            mediaType: OCI_MANIFEST,
            digest: attestation.digest,
            size: attestation.size,
            platform: { os: 'unknown', architecture: 'unknown' },
            annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amdDigest },
          },
          { mediaType: OCI_MANIFEST, digest: amdDigest, size: Buffer.byteLength(amdBody), platform: { os: 'linux', architecture: 'amd64' } },
        ],
      },
      OCI_INDEX,
      'multi',
    );
    const pulled = await pullImage(client, new FakeMemoryBlobWriter(), `${registry.host}/busybox:multi`);
    expect(pulled.indexDigest).toBe(index);
    expect(pulled.manifestDigest).toBe(amdDigest);
  });

  it('refuses a blob corrupted in the registry storage', async () => {
    const layer = Buffer.from('a layer that will rot on disk');
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }));
    const layerDigest = await pushBlob(registry.host, 'rotten', layer);
    const configDigest = await pushBlob(registry.host, 'rotten', config);
    await pushManifest(
      registry.host,
      'rotten',
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
      },
      OCI_MANIFEST,
      'latest',
    );
    const path = registry.blobPath(layerDigest);
    const stored = await readFile(path);
    stored[0] ^= 0xff;
    await writeFile(path, stored);

    const writer = new FakeMemoryBlobWriter();
    const error = await pullImage(client, writer, `${registry.host}/rotten`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toContain(`digest mismatch for blob ${layerDigest}`);
    expect(writer.blobs.has(layerDigest)).toBe(false);
  });

  it('names a missing tag or repository as image not found', async () => {
    await expect(pullImage(client, new FakeMemoryBlobWriter(), `${registry.host}/busybox:nope`)).rejects.toThrow(
      new ImageNotFoundError(`${registry.host}/busybox:nope`),
    );
    await expect(pullImage(client, new FakeMemoryBlobWriter(), `${registry.host}/absent/repo:1`)).rejects.toBeInstanceOf(ImageNotFoundError);
  });
});
