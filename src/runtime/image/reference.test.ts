import { describe, expect, it } from 'vitest';
import { InvalidReferenceError, UnsupportedDigestError } from './errors.js';
import { formatReference, isLoopbackRegistry, manifestKey, parseReference, registryHost } from './reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it('reads an explicit host:port registry, nested repository, tag and digest', () => {
    expect(parseReference('127.0.0.1:5000/team/app:v1.2')).toEqual({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1.2' });
    expect(parseReference(`localhost/app@${D}`)).toEqual({ registry: 'localhost', repository: 'app', digest: D });
    const both = parseReference(`reg.example:443/app:v1@${D}`);
    expect(both).toEqual({ registry: 'reg.example:443', repository: 'app', tag: 'v1', digest: D });
    expect(manifestKey(both)).toBe(D);
    expect(formatReference(both)).toBe(`reg.example:443/app:v1@${D}`);
  });

  it('defaults the tag to latest and short names to Docker Hub library/ (parsed, not contacted)', () => {
    const ref = parseReference('busybox');
    expect(ref).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
    expect(registryHost(ref)).toBe('registry-1.docker.io');
    expect(parseReference('someone/tool:1')).toEqual({ registry: 'docker.io', repository: 'someone/tool', tag: '1' });
  });

  it('refuses malformed references and other digest algorithms by name', () => {
    for (const bad of ['', 'UPPER/case', 'app:', 'app:bad tag', 'reg:99/a//b', 'a/-b']) {
      expect(() => parseReference(bad), bad).toThrow(InvalidReferenceError);
    }
    expect(() => parseReference(`app@sha512:${'a'.repeat(128)}`)).toThrow(UnsupportedDigestError);
    expect(() => parseReference('app@sha256:short')).toThrow(/malformed digest/);
  });

  it('speaks plain HTTP only to loopback registries', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost:5000')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.example:5000')).toBe(false);
    expect(isLoopbackRegistry('10.0.0.1:5000')).toBe(false);
  });
});
