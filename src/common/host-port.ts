/** `host:port` addresses as shoal's flags, certificates and Raft configurations use them. */

/**
 * Whether `address` is HOST:PORT with a port from `minPort` (0 lets the system pick, where a
 * listener allows it) to 65535.
 */
export function isHostPort(address: string, minPort = 1): boolean {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  return colon > 0 && Number.isInteger(port) && port >= minPort && port <= 65535;
}

/** "127.0.0.1:50312" → "127.0.0.1", "[::1]:50312" → "::1"; anything else unchanged. */
export function hostOf(address: string): string {
  const match = /^\[?([^\]]*?)\]?:\d+$/.exec(address);
  return match ? match[1]! : address;
}
