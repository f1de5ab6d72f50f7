/** IP address text to the 4 or 16 network-order bytes a subjectAltName iPAddress holds. */
import { isIPv4, isIPv6 } from 'node:net';

export function ipAddressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (isIPv6(address) && !address.includes('%')) return ipv6Bytes(address);
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

function groupsOf(part: string): number[] {
  if (part === '') return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const v4 = ipAddressBytes(piece);
      groups.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
    } else {
      groups.push(parseInt(piece, 16));
    }
  }
  return groups;
}

// Called only on text node:net accepted as IPv6, so the shape is known to be valid.
function ipv6Bytes(address: string): Buffer {
  const [left = '', right] = address.split('::');
  const head = groupsOf(left);
  const tail = right === undefined ? [] : groupsOf(right);
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  const out = Buffer.alloc(16);
  [...head, ...zeros, ...tail].forEach((group, i) => out.writeUInt16BE(group, i * 2));
  return out;
}
