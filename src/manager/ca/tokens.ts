/**
 * Join tokens, docker's shape: `SHTKN-1-<root CA digest>-<secret>`.
 *
 * The digest (64 hex digits, SHA-256 of the root certificate) lets a joining node check that the
 * manager it reached serves the cluster's real CA before trusting it; the secret (25 characters of
 * [0-9a-z], 128 random bits) is what the CA checks to decide the role. Workers and managers have
 * separate secrets, and rotating one makes its old token useless.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const JOIN_TOKEN_PREFIX = 'SHTKN';
export const JOIN_TOKEN_VERSION = 1;
const SECRET_LENGTH = 25;
const FORMAT = `${JOIN_TOKEN_PREFIX}-${JOIN_TOKEN_VERSION}-<root CA digest>-<secret>`;

export interface JoinToken {
  version: number;
  /** SHA-256 of the root CA certificate, 64 lower-case hex digits. */
  caDigest: string;
  secret: string;
}

export class JoinTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenError';
  }
}

/** A fresh token for the CA with `caDigest`, with a new random secret. */
export function newJoinToken(caDigest: string): string {
  if (!/^[0-9a-f]{64}$/.test(caDigest)) throw new Error('a root CA digest is 64 lower-case hex digits');
  const secret = BigInt(`0x${randomBytes(16).toString('hex')}`).toString(36).padStart(SECRET_LENGTH, '0');
  return `${JOIN_TOKEN_PREFIX}-${JOIN_TOKEN_VERSION}-${caDigest}-${secret}`;
}

/** Reads a token's parts; throws JoinTokenError saying what is wrong with a malformed one. */
export function parseJoinToken(token: string): JoinToken {
  const parts = token.trim().split('-');
  if (parts.length !== 4 || parts[0] !== JOIN_TOKEN_PREFIX) throw new JoinTokenError(`malformed join token: expected ${FORMAT}`);
  const [, version, caDigest, secret] = parts as [string, string, string, string];
  if (!/^\d+$/.test(version)) throw new JoinTokenError(`malformed join token: version ${JSON.stringify(version)} is not a number`);
  if (Number(version) !== JOIN_TOKEN_VERSION) {
    throw new JoinTokenError(`unsupported join token version ${version}; this shoal reads version ${JOIN_TOKEN_VERSION}`);
  }
  if (!/^[0-9a-f]{64}$/.test(caDigest)) throw new JoinTokenError('malformed join token: the root CA digest must be 64 hex digits');
  if (!new RegExp(`^[0-9a-z]{${SECRET_LENGTH}}$`).test(secret)) {
    throw new JoinTokenError(`malformed join token: the secret must be ${SECRET_LENGTH} characters of [0-9a-z]`);
  }
  return { version: JOIN_TOKEN_VERSION, caDigest, secret };
}

/**
 * True when `presented` is the same token as `expected`, compared in constant time so that the time
 * a refusal takes says nothing about how much of a guessed secret was right.
 */
export function joinTokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented.trim());
  const b = Buffer.from(expected);
  // Lengths are fixed by the format, so comparing them first leaks nothing secret.
  return a.length === b.length && timingSafeEqual(a, b);
}
