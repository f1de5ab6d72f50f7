/**
 * Image references: `[registry[:port]/]repository[:tag][@digest]`, with Docker's habits: the first
 * component is a registry only when it looks like a host (a dot, a port or `localhost`); otherwise
 * the registry is Docker Hub and one-component names live under `library/`. Docker Hub is only
 * parsed here, never contacted by tests.
 */
import { checkDigest } from './digest.js';
import { InvalidReferenceError } from './errors.js';

export interface ImageReference {
  /** `host[:port]` as written (Docker Hub as `docker.io`). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's API does not live on docker.io itself. */
const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$/;

export function parseReference(text: string): ImageReference {
  const bad = (why: string): never => {
    throw new InvalidReferenceError(`invalid image reference ${JSON.stringify(text)}: ${why}`);
  };
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = checkDigest(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  // A tag is after the last colon that follows the last slash (a colon before it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`bad tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && /[.:]|^localhost$|^\[/.test(parts[0]!)) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) bad(`bad registry ${JSON.stringify(registry)}`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) bad('bad repository name');
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageReference = { registry, repository: parts.join('/') };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The canonical text form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** What to put after /manifests/: the digest when pinned (the tag is then informational). */
export function manifestKey(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host to connect to for this reference's registry. */
export function registryHost(ref: ImageReference): string {
  return ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry;
}

/** Loopback registries speak plain HTTP (Docker's rule too); every other one HTTPS. */
export function isLoopbackRegistry(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}
