import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DigestMismatchError,
  ImageNotFoundError,
  NoMatchingPlatformError,
  RegistryError,
  RegistryUnreachableError,
  UnsupportedDigestError,
  UnsupportedMediaTypeError,
} from './errors.js';
import { DOCKER_CONFIG, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { pullImage } from './pull.js';
import { RegistryClient } from './registry-client.js';
import { FakeRegistry } from './testing/fake-registry.js';
import { FakeMemoryBlobWriter } from './testing/memory-blob-writer.js';
import { RegistryAuth } from './token-auth.js';
import type { PullEvent } from './types.js';

const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const fastRetry = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

let registry: FakeRegistry;
let writer: FakeMemoryBlobWriter;
const client = (extra: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient =>
  new RegistryClient({ retry: fastRetry, ...extra });

beforeEach(async () => {
  registry = await FakeRegistry.start();
  writer = new FakeMemoryBlobWriter();
});
afterEach(async () => {
  await registry.close();
});

/** An image of `layers` in `repo`, tagged when `tag` is given; returns its pieces' digests. */
function addImage(
  repo: string,
  layers: Buffer[],
  opts: { tag?: string; manifestType?: string; configType?: string; layerType?: string; arch?: string } = {},
) {
  const configBody = Buffer.from(JSON.stringify({ architecture: opts.arch ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config = registry.addBlob(repo, configBody);
  const layerDescs = layers.map((l) => ({ mediaType: opts.layerType ?? OCI_GZIP, digest: registry.addBlob(repo, l), size: l.length }));
  const manifestType = opts.manifestType ?? OCI_MANIFEST;
  const manifest = registry.addManifest(
    repo,
    {
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: opts.configType ?? OCI_CONFIG, digest: config, size: configBody.length },
      layers: layerDescs,
    },
    manifestType,
    opts.tag,
  );
  return { config, configBody, manifest, layers: layerDescs.map((l) => l.digest) };
}

const bytes = (text: string, n = 1): Buffer => Buffer.from(text.repeat(n));

describe('pullImage against a fake registry', () => {
  it('pulls an OCI image: config, manifest and every layer land in the writer, verified', async () => {
    const img = addImage('app', [bytes('layer-one', 1000), bytes('layer-two', 500)], { tag: 'v1' });
    const events: PullEvent[] = [];
    const pulled = await pullImage(client(), writer, `${registry.host}/app:v1`, { onEvent: (e) => events.push(e) });
    expect(pulled.manifestDigest).toBe(img.manifest);
    expect(pulled.reference).toBe(`${registry.host}/app:v1`);
    expect(pulled.config.equals(img.configBody)).toBe(true);
    expect(pulled.manifest.layers.map((l) => l.digest)).toEqual(img.layers);
    expect([...writer.blobs.keys()].sort()).toEqual([img.config, img.manifest, ...img.layers].sort());
    expect(writer.blobs.get(img.layers[0]!)!.equals(bytes('layer-one', 1000))).toBe(true);
    // Progress: each layer reaches its total and is reported done once.
    for (const digest of img.layers) {
      const progress = events.filter((e): e is Extract<PullEvent, { kind: 'progress' }> => e.kind === 'progress' && e.digest === digest);
      expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);
      expect(events.filter((e) => e.kind === 'done' && e.digest === digest)).toHaveLength(1);
    }
    expect(events[0]).toMatchObject({ kind: 'resolved', manifestDigest: img.manifest });
  });

  it('pulls a Docker v2 schema 2 image and accepts a pull by digest', async () => {
    const img = addImage('dock', [bytes('d', 100)], {
      manifestType: DOCKER_MANIFEST,
      configType: DOCKER_CONFIG,
      layerType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    });
    const pulled = await pullImage(client(), writer, `${registry.host}/dock@${img.manifest}`);
    expect(pulled.manifest.mediaType).toBe(DOCKER_MANIFEST);
    expect(writer.blobs.has(img.layers[0]!)).toBe(true);
  });

  it('skips layers the writer already has and reports them as present', async () => {
    const img = addImage('app', [bytes('a', 10), bytes('b', 10)], { tag: 'latest' });
    writer.blobs.set(img.layers[0]!, bytes('a', 10));
    const events: PullEvent[] = [];
    await pullImage(client(), writer, `${registry.host}/app`, { onEvent: (e) => events.push(e) });
    expect(registry.requests.filter((r) => r.path.endsWith(img.layers[0]!))).toHaveLength(0);
    expect(events).toContainEqual({ kind: 'done', digest: img.layers[0], total: 10, alreadyPresent: true });
  });

  it('picks linux/amd64 from an index and skips attestation manifests', async () => {
    const arm = addImage('multi', [bytes('arm', 10)], { arch: 'arm64' });
    const amd = addImage('multi', [bytes('amd', 10)]);
    const attestation = addImage('multi', [bytes('att', 10)]);
    const index = registry.addManifest(
      'multi',
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: arm.manifest, size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          // An attestation that claims amd64 must still be skipped.
          {
            mediaType: OCI_MANIFEST,
            digest: attestation.manifest,
            size: 1,
            platform: { os: 'linux', architecture: 'amd64' },
            annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd.manifest },
          },
          { mediaType: OCI_MANIFEST, digest: amd.manifest, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      },
      OCI_INDEX,
      'latest',
    );
    const pulled = await pullImage(client(), writer, `${registry.host}/multi:latest`);
    expect(pulled.indexDigest).toBe(index);
    expect(pulled.manifestDigest).toBe(amd.manifest);
    expect(writer.blobs.has(amd.layers[0]!)).toBe(true);
    expect(writer.blobs.has(arm.layers[0]!)).toBe(false);
    expect(writer.blobs.has(attestation.layers[0]!)).toBe(false);
    expect(writer.blobs.has(index)).toBe(true);
  });

  it('refuses an index without linux/amd64, naming what it has', async () => {
    const arm = addImage('armonly', [bytes('arm', 10)], { arch: 'arm64' });
    registry.addManifest(
      'armonly',
      { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: arm.manifest, size: 1, platform: { os: 'linux', architecture: 'arm64' } }] },
      DOCKER_LIST,
      'latest',
    );
    const error = await pullImage(client(), writer, `${registry.host}/armonly`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoMatchingPlatformError);
    expect((error as Error).message).toContain('it has: linux/arm64');
  });

  it('answers a bearer challenge with an anonymous token and reuses it for the whole pull', async () => {
    addImage('private', [bytes('x', 10), bytes('y', 10)], { tag: 'latest' });
    registry.tokenAuth = {};
    await pullImage(client(), writer, `${registry.host}/private`);
    expect(registry.tokenRequests).toHaveLength(1);
    expect(registry.tokenRequests[0]!.query.get('scope')).toBe('repository:private:pull');
    expect(registry.tokenRequests[0]!.query.get('service')).toBe('fake-registry');
    expect(registry.tokenRequests[0]!.authorization).toBeUndefined();
    // One 401, then every request carries the token.
    const unauthenticated = registry.requests.filter((r) => r.authorization === undefined);
    expect(unauthenticated).toHaveLength(1);
    expect(registry.requests.slice(1).every((r) => r.authorization === 'Bearer fake-token-1')).toBe(true);
  });

  it('sends basic credentials to the token server, and fails clearly when they are refused', async () => {
    addImage('private', [bytes('x', 10)], { tag: 'latest' });
    registry.tokenAuth = { credentials: { username: 'alice', password: 's3cret' } };
    const withCredentials = (password: string) =>
      client({ auth: new RegistryAuth({ credentials: (host) => (host === registry.host ? { username: 'alice', password } : undefined) }) });
    await pullImage(withCredentials('s3cret'), writer, `${registry.host}/private`);
    expect(registry.tokenRequests[0]!.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);

    const error = await pullImage(withCredentials('wrong'), new FakeMemoryBlobWriter(), `${registry.host}/private`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toMatch(/refused the credentials/);
  });

  it('refuses a layer whose bytes do not match its digest, and the writer commits nothing', async () => {
    const img = addImage('app', [bytes('good', 100)], { tag: 'latest' });
    registry.faults.push({ pathEndsWith: img.layers[0]!, kind: 'corrupt', times: Infinity });
    const error = await pullImage(client(), writer, `${registry.host}/app`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toContain(`digest mismatch for blob ${img.layers[0]}`);
    expect(writer.blobs.has(img.layers[0]!)).toBe(false);
    expect(writer.blobs.has(img.manifest)).toBe(false);
    // Not retried: a corrupt blob stays corrupt.
    expect(registry.requests.filter((r) => r.path.endsWith(img.layers[0]!))).toHaveLength(1);
  });

  it('refuses a manifest that does not match the digest the registry claims, or the digest asked for', async () => {
    const img = addImage('app', [bytes('m', 10)], { tag: 'latest' });
    registry.faults.push({ pathEndsWith: 'manifests/latest', kind: 'corrupt', times: 1 });
    await expect(pullImage(client(), writer, `${registry.host}/app`)).rejects.toBeInstanceOf(DigestMismatchError);
    registry.faults.push({ pathEndsWith: `manifests/${img.manifest}`, kind: 'corrupt', times: 1 });
    await expect(pullImage(client(), writer, `${registry.host}/app@${img.manifest}`)).rejects.toThrow(/digest mismatch for manifest/);
  });

  it('retries 503 answers and connections cut mid-body, then succeeds', async () => {
    const img = addImage('app', [bytes('retry-me', 5000)], { tag: 'latest' });
    registry.faults.push(
      { pathEndsWith: 'manifests/latest', kind: 'status-503', times: 2 },
      { pathEndsWith: img.config, kind: 'cut-body', times: 1 },
      { pathEndsWith: img.layers[0]!, kind: 'cut-body', times: 2 },
    );
    await pullImage(client(), writer, `${registry.host}/app`);
    expect(writer.blobs.get(img.layers[0]!)!.equals(bytes('retry-me', 5000))).toBe(true);
    expect(registry.requests.filter((r) => r.path.endsWith('manifests/latest'))).toHaveLength(3);
    expect(registry.requests.filter((r) => r.path.endsWith(img.layers[0]!))).toHaveLength(3);
    // The cut attempts reached the writer and were not committed; only the last one was.
    expect(writer.attempts.filter((d) => d === img.layers[0])).toHaveLength(3);
  });

  it('gives up after the configured tries with the last failure', async () => {
    addImage('app', [bytes('x', 10)], { tag: 'latest' });
    registry.faults.push({ pathEndsWith: 'manifests/latest', kind: 'status-503', times: Infinity });
    const error = await pullImage(client(), writer, `${registry.host}/app`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).status).toBe(503);
    expect(registry.requests).toHaveLength(fastRetry.attempts);
  });

  it('downloads layers in parallel, never more than the concurrency limit', async () => {
    const layers = Array.from({ length: 6 }, (_, i) => bytes(`layer-${i}`, 20_000));
    const img = addImage('wide', layers, { tag: 'latest' });
    await pullImage(client(), writer, `${registry.host}/wide`, { concurrency: 2 });
    expect(img.layers.every((d) => writer.blobs.has(d))).toBe(true);
    expect(registry.maxInFlightBlobs).toBeLessThanOrEqual(2);
  });

  it('names an unknown repository or tag as image not found', async () => {
    addImage('app', [bytes('x', 10)], { tag: 'latest' });
    await expect(pullImage(client(), writer, `${registry.host}/app:nope`)).rejects.toThrow(
      new ImageNotFoundError(`${registry.host}/app:nope`),
    );
    await expect(pullImage(client(), writer, `${registry.host}/nothing`)).rejects.toThrow(`image not found: ${registry.host}/nothing:latest`);
  });

  it('reports an unreachable registry after retrying', async () => {
    const port = await closedPort();
    const error = await pullImage(client(), writer, `127.0.0.1:${port}/app`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect((error as Error).message).toMatch(new RegExp(`registry unreachable: 127.0.0.1:${port} \\(ECONNREFUSED`));
  });

  it('refuses unsupported media types and digest algorithms clearly', async () => {
    registry.addManifest('old', { schemaVersion: 1, name: 'old', fsLayers: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'latest');
    await expect(pullImage(client(), writer, `${registry.host}/old`)).rejects.toBeInstanceOf(UnsupportedMediaTypeError);

    addImage('artifact', [bytes('x', 10)], { tag: 'latest', configType: 'application/vnd.example.thing.config.v1+json' });
    await expect(pullImage(client(), writer, `${registry.host}/artifact`)).rejects.toThrow(/unsupported config media type .* \(not a container image\)/);

    addImage('foreign', [bytes('x', 10)], { tag: 'latest', layerType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' });
    await expect(pullImage(client(), writer, `${registry.host}/foreign`)).rejects.toThrow(/unsupported layer media type/);

    await expect(pullImage(client(), writer, `${registry.host}/app@sha512:${'a'.repeat(128)}`)).rejects.toThrow(
      new UnsupportedDigestError(`unsupported digest algorithm in sha512:${'a'.repeat(128)} (only sha256 is supported)`),
    );
  });
});

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
