/**
 * What `shoal image pull` prints while it pulls: one line per layer as it finishes downloading and
 * unpacking. On a terminal, the layer being downloaded also shows its bytes, redrawn in place.
 */
import type { Output } from '../cli/io.js';
import { formatBytes } from '../cli/units.js';
import type { ImageStoreEvent } from '../../src/runtime/image/image-store.js';

/** Layers are named by the first 12 hex digits of their blob digest, as docker does. */
const short = (digest: string): string => digest.slice('sha256:'.length, 'sha256:'.length + 12);

export function pullProgress(out: Output): (event: ImageStoreEvent) => void {
  let redrawing = false;
  const line = (text: string): void => {
    out.write(`${redrawing ? '\r\x1b[K' : ''}${text}\n`);
    redrawing = false;
  };
  return (event) => {
    switch (event.kind) {
      case 'resolved':
        line(`${event.reference}: ${event.layers.length} layer${event.layers.length === 1 ? '' : 's'}, manifest ${event.manifestDigest}`);
        return;
      case 'progress':
        if (!out.isTTY) return;
        out.write(`\r\x1b[K${short(event.digest)}: Downloading ${formatBytes(event.done)}/${formatBytes(event.total)}`);
        redrawing = true;
        return;
      case 'done':
        line(`${short(event.digest)}: ${event.alreadyPresent ? 'Already downloaded' : `Downloaded ${formatBytes(event.total)}`}`);
        return;
      case 'unpacked':
        line(`${short(event.digest)}: ${event.alreadyPresent ? 'Already unpacked' : 'Unpacked'}`);
        return;
    }
  };
}
