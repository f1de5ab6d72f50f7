/** PEM armour (RFC 7468): base64 of DER between BEGIN/END lines. */
import { DerError } from './der.js';

export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every block with the given label, in order. */
export function pemBlocks(pem: string, label: string): Buffer[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, 'g');
  return [...pem.matchAll(pattern)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** The DER of the single block with `label`; an error when there is none or several. */
export function fromPem(pem: string, label: string): Buffer {
  const blocks = pemBlocks(pem, label);
  if (blocks.length !== 1) throw new DerError(`expected one PEM block "${label}", found ${blocks.length}`);
  return blocks[0]!;
}
