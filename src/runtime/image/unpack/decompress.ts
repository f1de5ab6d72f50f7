/**
 * The decompressor a layer's media type calls for. gzip comes from node:zlib; Node 20 has no
 * zstd, so zstd uses fzstd, a small pure-JavaScript streaming decoder (no native build, no
 * WebAssembly), wrapped here as a Transform.
 */
import { Transform, PassThrough } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';

export type Compression = 'none' | 'gzip' | 'zstd';

const BY_SUFFIX: Record<string, Compression> = { tar: 'none', 'tar+gzip': 'gzip', 'tar+zstd': 'zstd' };

const DOCKER: Record<string, Compression> = {
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
};

/** OCI layer media types (distributable or not) and Docker's; anything else is refused. */
export function compressionOf(mediaType: string): Compression {
  const docker = DOCKER[mediaType];
  if (docker !== undefined) return docker;
  const oci = /^application\/vnd\.oci\.image\.layer\.(?:nondistributable\.)?v1\.(tar(?:\+gzip|\+zstd)?)$/.exec(mediaType);
  if (oci !== null) return BY_SUFFIX[oci[1]];
  throw new Error(`unsupported layer media type: ${mediaType}`);
}

function zstdStream(): Transform {
  // Copied out: the decoder's output may share memory it goes on to reuse.
  const decoder = new Decompress((data) => {
    if (data.length > 0) stream.push(Buffer.from(data));
  });
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        decoder.push(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        decoder.push(new Uint8Array(0), true);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  return stream;
}

export function decompressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return createGunzip();
    case 'zstd':
      return zstdStream();
  }
}
