import { describe, expect, it } from 'vitest';
import { ImageNotFoundError, RegistryError, RegistryUnreachableError } from '../../runtime/image/errors.js';
import { formatSize, ImageUnavailableError, PROGRESS_INTERVAL_MS, PullProgress } from './image-puller.js';

const layer = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${String(n).repeat(64)}`, size: 1_000_000 });

describe('PullProgress', () => {
  it('counts layers and bytes, and unpacking, at most every interval unless a layer finished', () => {
    let now = 0;
    const messages: string[] = [];
    const p = new PullProgress('127.0.0.1:5000/busybox:1', () => now, (m) => messages.push(m));
    const [a, b, c] = [layer(1), layer(2), layer(3)];
    p.onEvent({ kind: 'resolved', reference: '127.0.0.1:5000/busybox:1', manifestDigest: 'sha256:m', layers: [a, b, c] });
    p.onEvent({ kind: 'done', digest: a.digest, total: a.size, alreadyPresent: true });
    now = 10;
    p.onEvent({ kind: 'progress', digest: b.digest, done: 200_000, total: b.size }); // too soon
    now = 10 + PROGRESS_INTERVAL_MS;
    p.onEvent({ kind: 'progress', digest: b.digest, done: 400_000, total: b.size });
    p.onEvent({ kind: 'progress', digest: c.digest, done: 500_000, total: c.size }); // too soon
    p.onEvent({ kind: 'done', digest: b.digest, total: b.size, alreadyPresent: false });
    p.onEvent({ kind: 'done', digest: c.digest, total: c.size, alreadyPresent: false });
    p.onEvent({ kind: 'unpacked', digest: a.digest, diffId: 'sha256:d', alreadyPresent: true });
    expect(messages).toEqual([
      'pulling 127.0.0.1:5000/busybox:1: 0/3 layers, 0 B',
      'pulling 127.0.0.1:5000/busybox:1: 1/3 layers, 0 B',
      'pulling 127.0.0.1:5000/busybox:1: 1/3 layers, 400.0 kB',
      'pulling 127.0.0.1:5000/busybox:1: 2/3 layers, 1.5 MB',
      'pulling 127.0.0.1:5000/busybox:1: 3/3 layers, 2.0 MB',
      'unpacking 127.0.0.1:5000/busybox:1: 1/3 layers',
    ]);
  });
});

describe('formatSize', () => {
  it('writes decimal units as docker does', () => {
    expect([0, 999, 1_000, 1_234_567, 5e9].map(formatSize)).toEqual(['0 B', '999 B', '1.0 kB', '1.2 MB', '5.0 GB']);
  });
});

describe('ImageUnavailableError', () => {
  it('says the image was not found, with the registry’s reason when it refused, else why the pull failed', () => {
    expect(new ImageUnavailableError('r/app:1', new ImageNotFoundError('r/app:1')).message).toBe('image not found: r/app:1');
    expect(new ImageUnavailableError('r/app:1', new RegistryError('unauthorized: r/app:1 (the registry refused the token)', 401)).message).toBe(
      'image not found: r/app:1 (unauthorized: r/app:1 (the registry refused the token))',
    );
    expect(new ImageUnavailableError('r/app:1', new RegistryUnreachableError('r', 'connection refused')).message).toBe(
      'cannot pull r/app:1: registry unreachable: r (connection refused)',
    );
  });
});
