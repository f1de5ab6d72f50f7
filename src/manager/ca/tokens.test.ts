import { describe, expect, it } from 'vitest';
import { createCaState, joinTokenOf, roleForJoinToken, rootCAOf, rotateJoinToken } from './ca-state.js';
import { joinTokenMatches, JoinTokenError, newJoinToken, parseJoinToken } from './tokens.js';

const DIGEST = 'ab'.repeat(32);

describe('join tokens', () => {
  it('have docker’s shape and pin the digest they were made for', () => {
    const token = newJoinToken(DIGEST);
    expect(token).toMatch(/^SHTKN-1-[0-9a-f]{64}-[0-9a-z]{25}$/);
    expect(parseJoinToken(token)).toEqual({ version: 1, caDigest: DIGEST, secret: token.slice(-25) });
    expect(newJoinToken(DIGEST)).not.toBe(token);
    expect(() => newJoinToken('xyz')).toThrow(/64 lower-case hex/);
  });

  it('say clearly what is wrong with a malformed token', () => {
    const secret = 'a'.repeat(25);
    expect(() => parseJoinToken('')).toThrow(/malformed join token: expected SHTKN-1-<root CA digest>-<secret>/);
    expect(() => parseJoinToken(`SWMTKN-1-${DIGEST}-${secret}`)).toThrow(/malformed join token/);
    expect(() => parseJoinToken(`SHTKN-2-${DIGEST}-${secret}`)).toThrow(/unsupported join token version 2; this shoal reads version 1/);
    expect(() => parseJoinToken(`SHTKN-v1-${DIGEST}-${secret}`)).toThrow(/version "v1" is not a number/);
    expect(() => parseJoinToken(`SHTKN-1-${DIGEST.slice(2)}-${secret}`)).toThrow(/digest must be 64 hex digits/);
    expect(() => parseJoinToken(`SHTKN-1-${DIGEST}-${secret.toUpperCase()}`)).toThrow(/secret must be 25 characters/);
    expect(() => parseJoinToken(`SHTKN-1-${DIGEST}-${secret}-extra`)).toThrow(JoinTokenError);
    // Surrounding white space (a pasted token) is forgiven.
    expect(parseJoinToken(` SHTKN-1-${DIGEST}-${secret}\n`).secret).toBe(secret);
  });

  it('compare whole tokens', () => {
    const token = newJoinToken(DIGEST);
    expect(joinTokenMatches(token, token)).toBe(true);
    expect(joinTokenMatches(`${token}\n`, token)).toBe(true);
    expect(joinTokenMatches(newJoinToken(DIGEST), token)).toBe(false);
    expect(joinTokenMatches(token.slice(0, -1), token)).toBe(false);
  });
});

describe('CA state', () => {
  const state = createCaState('cluster-1');

  it('holds a root and one token per role, both pinning the root', () => {
    const digest = rootCAOf(state).digest;
    expect(parseJoinToken(state.workerJoinToken).caDigest).toBe(digest);
    expect(parseJoinToken(state.managerJoinToken).caDigest).toBe(digest);
    expect(state.workerJoinToken).not.toBe(state.managerJoinToken);
    expect(joinTokenOf(state, 'worker')).toBe(state.workerJoinToken);
    expect(joinTokenOf(state, 'manager')).toBe(state.managerJoinToken);
    expect(() => createCaState('')).toThrow(/cluster id/);
  });

  it('tells the role a token admits, and admits no other token', () => {
    expect(roleForJoinToken(state, state.workerJoinToken)).toBe('worker');
    expect(roleForJoinToken(state, state.managerJoinToken)).toBe('manager');
    expect(roleForJoinToken(state, newJoinToken(rootCAOf(state).digest))).toBeUndefined();
    // The right secret with another CA's digest is not this cluster's token.
    const foreign = state.workerJoinToken.replace(rootCAOf(state).digest, 'cd'.repeat(32));
    expect(roleForJoinToken(state, foreign)).toBeUndefined();
    expect(() => roleForJoinToken(state, 'SHTKN-1-nope')).toThrow(JoinTokenError);
  });

  it('rotates one role’s token: the old one stops working, the other role’s is kept', () => {
    const rotated = rotateJoinToken(state, 'worker');
    expect(rotated.workerJoinToken).not.toBe(state.workerJoinToken);
    expect(rotated.managerJoinToken).toBe(state.managerJoinToken);
    expect(rotated.rootCaCertPem).toBe(state.rootCaCertPem);
    expect(roleForJoinToken(rotated, state.workerJoinToken)).toBeUndefined();
    expect(roleForJoinToken(rotated, rotated.workerJoinToken)).toBe('worker');
    expect(roleForJoinToken(state, state.workerJoinToken)).toBe('worker'); // the input is not changed
    const managerRotated = rotateJoinToken(rotated, 'manager');
    expect(roleForJoinToken(managerRotated, state.managerJoinToken)).toBeUndefined();
    expect(roleForJoinToken(managerRotated, managerRotated.managerJoinToken)).toBe('manager');
  });

  it('parses its root once for repeated reads of the same state', () => {
    expect(rootCAOf(state)).toBe(rootCAOf({ ...state }));
  });
});
