/**
 * The failures of a pull, one class each so that callers (the agent, the CLI) can tell them apart
 * and print one clear line.
 */
export class ImagePullError extends Error {
  override name = 'ImagePullError';
}

/** The repository, tag or digest does not exist in the registry. */
export class ImageNotFoundError extends ImagePullError {
  override name = 'ImageNotFoundError';
  constructor(readonly reference: string) {
    super(`image not found: ${reference}`);
  }
}

/** No connection to the registry, after retries. */
export class RegistryUnreachableError extends ImagePullError {
  override name = 'RegistryUnreachableError';
  constructor(readonly registry: string, cause: string) {
    super(`registry unreachable: ${registry} (${cause})`);
  }
}

/** The registry answered, but not usefully (an unexpected status, bad JSON, refused credentials). */
export class RegistryError extends ImagePullError {
  override name = 'RegistryError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** Content whose bytes do not hash to the digest that named it. Never retried. */
export class DigestMismatchError extends ImagePullError {
  override name = 'DigestMismatchError';
  constructor(readonly expected: string, readonly actual: string, what: string) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual}`);
  }
}

/** A manifest, config or layer type, or a digest algorithm, this client does not handle. */
export class UnsupportedMediaTypeError extends ImagePullError {
  override name = 'UnsupportedMediaTypeError';
}

/** An index with no manifest for the wanted platform. */
export class NoMatchingPlatformError extends ImagePullError {
  override name = 'NoMatchingPlatformError';
}

export class InvalidReferenceError extends ImagePullError {
  override name = 'InvalidReferenceError';
}

/** A digest algorithm other than sha256 (the only one registries are required to serve). */
export class UnsupportedDigestError extends ImagePullError {
  override name = 'UnsupportedDigestError';
}
