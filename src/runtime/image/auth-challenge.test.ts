import { describe, expect, it } from 'vitest';
import { parseChallenge } from './auth-challenge.js';

describe('parseChallenge', () => {
  it('reads a registry Bearer challenge with quoted parameters', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
  });

  it('reads unquoted values, escapes and a Basic challenge', () => {
    expect(parseChallenge('Basic realm=registry')).toEqual({ scheme: 'basic', params: { realm: 'registry' } });
    expect(parseChallenge('Bearer realm="a\\"b", error=invalid_token')!.params).toEqual({ realm: 'a"b', error: 'invalid_token' });
    expect(parseChallenge('')).toBeNull();
  });
});
