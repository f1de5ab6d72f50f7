/**
 * Pushes blobs and manifests to a real registry over the distribution API, so that tests can
 * build exactly the images they need (an index with several platforms, a blob to corrupt).
 */
import { createHash } from 'node:crypto';

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A monolithic blob upload: POST for a session, then PUT the bytes with their digest. */
export async function pushBlob(host: string, repo: string, data: Buffer, authorization?: string): Promise<string> {
  const digest = digestOf(data);
  const auth: Record<string, string> = authorization ? { authorization } : {};
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
  if (start.status !== 202) throw new Error(`blob upload to ${host}/${repo} answered ${start.status}`);
  const location = new URL(start.headers.get('location')!, `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data, headers: { ...auth, 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob PUT to ${host}/${repo} answered ${put.status}: ${await put.text()}`);
  return digest;
}

/** PUTs a manifest or index under `tagOrDigest` (its own digest when omitted); returns its digest. */
export async function pushManifest(
  host: string,
  repo: string,
  doc: unknown,
  mediaType: string,
  tag?: string,
  authorization?: string,
): Promise<string> {
  const body = Buffer.from(JSON.stringify(doc));
  const digest = digestOf(body);
  const response = await fetch(`http://${host}/v2/${repo}/manifests/${tag ?? digest}`, {
    method: 'PUT',
    body,
    headers: { 'content-type': mediaType, ...(authorization ? { authorization } : {}) },
  });
  if (response.status !== 201) throw new Error(`manifest PUT to ${host}/${repo} answered ${response.status}: ${await response.text()}`);
  return digest;
}
