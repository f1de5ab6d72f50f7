/**
 * The HTTP side of the OCI distribution API, pull only: GET a manifest and GET a blob, with
 * authentication after a 401 and retries around each request. It knows nothing of indexes,
 * platforms or stores (pull.ts does).
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { systemClock, type Clock } from '../../common/clock.js';
import type { Random } from '../../common/random.js';
import { checkDigest, sha256Of, verifyBuffer } from './digest.js';
import { DigestMismatchError, ImageNotFoundError, RegistryError, RegistryUnreachableError } from './errors.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { formatReference, isLoopbackRegistry, manifestKey, registryHost, type ImageReference } from './reference.js';
import { DEFAULT_RETRY, TransientError, withRetry, type RetryPolicy } from './retry.js';
import { RegistryAuth, errorCause } from './token-auth.js';

export interface RegistryClientOptions {
  auth?: RegistryAuth;
  retry?: RetryPolicy;
  clock?: Clock;
  random?: Random;
  fetch?: typeof fetch;
  /** Registries (`host:port`) spoken to over plain HTTP besides the loopback ones. */
  insecureRegistries?: string[];
}

export interface FetchedManifest {
  body: Buffer;
  contentType: string | null;
  /** sha256 of the body, checked against the reference's digest or the registry's header. */
  digest: string;
}

/** Manifests are small; a larger answer is not a manifest (the distribution spec suggests 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export class RegistryClient {
  private readonly auth: RegistryAuth;
  private readonly retry: RetryPolicy;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.fetchFn = options.fetch ?? fetch;
    this.auth = options.auth ?? new RegistryAuth({ clock: options.clock ?? systemClock, fetch: this.fetchFn });
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  /** The manifest (or index) the reference names, verified. */
  async getManifest(ref: ImageReference): Promise<FetchedManifest> {
    const what = formatReference(ref);
    return this.withRetry(async () => {
      const response = await this.send(ref, `manifests/${manifestKey(ref)}`, MANIFEST_ACCEPT);
      if (response.status === 404) {
        await response.body?.cancel();
        throw new ImageNotFoundError(what);
      }
      await this.expectOk(response, `manifest of ${what}`);
      const body = await readLimited(response, MAX_MANIFEST_BYTES, `manifest of ${what}`).catch((e: unknown) => {
        throw this.classify(e, ref);
      });
      const digest = sha256Of(body);
      if (ref.digest !== undefined) {
        verifyBuffer(body, ref.digest, `manifest of ${what}`);
      } else {
        const claimed = response.headers.get('docker-content-digest');
        if (claimed !== null && checkDigest(claimed) !== digest) {
          throw new DigestMismatchError(claimed, digest, `manifest of ${what}`);
        }
      }
      return { body, contentType: response.headers.get('content-type'), digest };
    });
  }

  /**
   * Opens a blob for reading, retrying until the registry answers. The stream is raw: the caller
   * verifies it, and a failure while it flows surfaces as the stream's error.
   */
  async openBlob(ref: ImageReference, digest: string): Promise<Readable> {
    return this.withRetry(() => this.openBlobOnce(ref, digest));
  }

  /** A small blob (a config) read whole and verified. */
  async getBlob(ref: ImageReference, digest: string, size: number): Promise<Buffer> {
    return this.withRetry(async () => {
      const stream = await this.openBlobOnce(ref, digest);
      const chunks: Buffer[] = [];
      let length = 0;
      try {
        for await (const chunk of stream) {
          length += (chunk as Buffer).length;
          if (length > size) throw new DigestMismatchError(digest, `more than ${size} bytes`, `blob ${digest}`);
          chunks.push(chunk as Buffer);
        }
      } catch (e) {
        stream.destroy();
        throw this.classify(e, ref);
      }
      const body = Buffer.concat(chunks);
      verifyBuffer(body, digest, `blob ${digest}`);
      return body;
    });
  }

  /** One try at opening a blob; the caller retries. */
  async openBlobOnce(ref: ImageReference, digest: string): Promise<Readable> {
    const response = await this.send(ref, `blobs/${digest}`, '*/*');
    if (response.status === 404) {
      await response.body?.cancel();
      throw new RegistryError(`blob ${digest} of ${formatReference(ref)} is missing from the registry`, 404);
    }
    await this.expectOk(response, `blob ${digest}`);
    if (!response.body) throw new RegistryError(`blob ${digest}: empty response`);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  /** Turns a failure of reading a body into a transient one when the connection is to blame. */
  classify(e: unknown, ref: ImageReference): unknown {
    if (e instanceof Error && !(e instanceof RegistryError) && !(e instanceof DigestMismatchError) && !(e instanceof TransientError)) {
      const host = registryHost(ref);
      return new TransientError(`reading from ${host} failed`, new RegistryUnreachableError(host, errorCause(e)));
    }
    return e;
  }

  withRetry<T>(op: () => Promise<T>): Promise<T> {
    const env = { policy: this.retry, clock: this.options.clock, random: this.options.random };
    return withRetry(env, op);
  }

  /** One GET with authentication: a cached token up front, or one 401 answered and retried. */
  private async send(ref: ImageReference, path: string, accept: string): Promise<Response> {
    const host = registryHost(ref);
    const scheme = isLoopbackRegistry(host) || this.options.insecureRegistries?.includes(host) ? 'http' : 'https';
    const url = `${scheme}://${host}/v2/${ref.repository}/${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const get = async (authorization: string | undefined): Promise<Response> => {
      const headers: Record<string, string> = { accept };
      if (authorization) headers.authorization = authorization;
      try {
        return await this.fetchFn(url, { headers });
      } catch (e) {
        throw new TransientError(`GET ${url} failed`, new RegistryUnreachableError(host, errorCause(e)));
      }
    };
    let response = await get(this.auth.cached(host, scope));
    if (response.status === 401) {
      await response.body?.cancel();
      const authorization = await this.auth.answer(host, response.headers.get('www-authenticate'), scope);
      response = await get(authorization);
      if (response.status === 401) {
        await response.body?.cancel();
        throw new RegistryError(`unauthorized: ${formatReference(ref)} (the registry refused the token)`, 401);
      }
    }
    return response;
  }

  /** Anything but 2xx (404 is handled by the caller): 5xx and 429 are worth another try. */
  private async expectOk(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    const detail = await errorDetail(response);
    const error = new RegistryError(`registry answered ${response.status} for ${what}${detail}`, response.status);
    if (response.status >= 500 || response.status === 429) throw new TransientError(error.message, error);
    throw error;
  }
}

/** The distribution spec's error body, `{"errors":[{"code","message"}]}`, as a short suffix. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
    const parts = errors.map((e) => [e.code, e.message].filter(Boolean).join(' '));
    return parts.length ? `: ${parts.join('; ')}` : '';
  } catch {
    return '';
  }
}

async function readLimited(response: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) throw new RegistryError(`${what} is ${declared} bytes, over the ${limit} byte limit`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > limit) throw new RegistryError(`${what} is over the ${limit} byte limit`);
  return body;
}
