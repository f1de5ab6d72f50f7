/**
 * Token auth end to end: the real registry configured for bearer tokens, and a small token server
 * in the test that signs them with a key the registry trusts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from './errors.js';
import { OCI_CONFIG, OCI_MANIFEST } from './media-types.js';
import { pullImage } from './pull.js';
import { RegistryClient } from './registry-client.js';
import { LocalRegistry } from './testing/local-registry.js';
import { FakeMemoryBlobWriter } from './testing/memory-blob-writer.js';
import { pushBlob, pushManifest } from './testing/push.js';
import { FakeTokenServer } from './testing/token-server.js';
import { RegistryAuth } from './token-auth.js';

const user = { username: 'puller', password: 'let-me-in' };
let dir: string;
let tokens: FakeTokenServer;
let registry: LocalRegistry;
let manifestDigest: string;
let layerDigests: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-token-'));
  tokens = await FakeTokenServer.start(dir, user);
  registry = await LocalRegistry.start({
    tokenAuth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath },
  });
  const push = `Bearer ${tokens.issue('repository:private/app:pull,push')}`;
  const layers = [Buffer.from('first layer'), Buffer.from('second layer')];
  layerDigests = await Promise.all(layers.map((l) => pushBlob(registry.host, 'private/app', l, push)));
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = await pushBlob(registry.host, 'private/app', config, push);
  manifestDigest = await pushManifest(
    registry.host,
    'private/app',
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigests[i], size: l.length })),
    },
    OCI_MANIFEST,
    'v1',
    push,
  );
  tokens.requests.length = 0;
});
afterAll(async () => {
  await registry?.stop();
  await tokens?.close();
  await rm(dir, { recursive: true, force: true });
});

const clientAs = (password: string) =>
  new RegistryClient({
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    auth: new RegistryAuth({ credentials: () => ({ username: user.username, password }) }),
  });

describe('pull with token auth from the local registry', () => {
  it('answers the 401 with a token for the pull scope, fetched once for the whole pull', async () => {
    const writer = new FakeMemoryBlobWriter();
    const pulled = await pullImage(clientAs(user.password), writer, `${registry.host}/private/app:v1`);
    expect(pulled.manifestDigest).toBe(manifestDigest);
    expect(layerDigests.every((d) => writer.blobs.has(d))).toBe(true);
    expect(tokens.requests).toEqual([
      { scope: 'repository:private/app:pull', authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` },
    ]);
  });

  it('fails with one clear error when the token server refuses the credentials', async () => {
    const error = await pullImage(clientAs('wrong'), new FakeMemoryBlobWriter(), `${registry.host}/private/app:v1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toBe(`token server ${new URL(tokens.realm).host} refused the credentials for repository:private/app:pull`);
  });

  it('is refused without any token', async () => {
    const response = await fetch(`http://${registry.host}/v2/private/app/manifests/v1`);
    await response.body?.cancel();
    expect(response.status).toBe(401);
  });
});
