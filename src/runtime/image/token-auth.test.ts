import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../common/testing/fake-clock.js';
import { RegistryError } from './errors.js';
import { RegistryAuth } from './token-auth.js';

const CHALLENGE = 'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:app:pull"';

/** A fake token endpoint behind `fetch`: counts calls and hands out numbered tokens. */
function fakeTokenFetch(expiresIn?: number) {
  const urls: URL[] = [];
  const fetchFn = (async (input: string | URL) => {
    urls.push(new URL(String(input)));
    const body = expiresIn === undefined ? { access_token: `t${urls.length}` } : { token: `t${urls.length}`, expires_in: expiresIn };
    return new Response(JSON.stringify(body), { status: 200 });
  }) as typeof fetch;
  return { urls, fetchFn };
}

describe('RegistryAuth', () => {
  it('caches a token per scope until it expires (with a margin), then asks again', async () => {
    const clock = new FakeClock();
    const fake = fakeTokenFetch(120);
    const auth = new RegistryAuth({ clock, fetch: fake.fetchFn });
    expect(auth.cached('reg:5000', 'repository:app:pull')).toBeUndefined();
    expect(await auth.answer('reg:5000', CHALLENGE, 'repository:app:pull')).toBe('Bearer t1');
    expect(fake.urls[0]!.searchParams.get('service')).toBe('reg');
    expect(fake.urls[0]!.searchParams.get('scope')).toBe('repository:app:pull');
    expect(auth.cached('reg:5000', 'repository:app:pull')).toBe('Bearer t1');
    expect(auth.cached('reg:5000', 'repository:other:pull')).toBeUndefined();
    clock.advance(114_000);
    expect(auth.cached('reg:5000', 'repository:app:pull')).toBe('Bearer t1');
    clock.advance(2_000);
    expect(auth.cached('reg:5000', 'repository:app:pull')).toBeUndefined();
  });

  it('takes access_token and the 60 s default lifetime when expires_in is absent', async () => {
    const clock = new FakeClock();
    const auth = new RegistryAuth({ clock, fetch: fakeTokenFetch().fetchFn });
    expect(await auth.answer('reg', CHALLENGE, 'repository:app:pull')).toBe('Bearer t1');
    clock.advance(54_000);
    expect(auth.cached('reg', 'repository:app:pull')).toBe('Bearer t1');
    clock.advance(2_000);
    expect(auth.cached('reg', 'repository:app:pull')).toBeUndefined();
  });

  it('answers a Basic challenge with credentials, and refuses one it cannot answer', async () => {
    const auth = new RegistryAuth({ credentials: (r) => (r === 'reg' ? { username: 'u', password: 'p' } : undefined) });
    expect(await auth.answer('reg', 'Basic realm="r"', 'repository:app:pull')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    await expect(auth.answer('other', 'Basic realm="r"', 'repository:app:pull')).rejects.toThrow('registry other requires credentials');
    await expect(auth.answer('reg', null, 'repository:app:pull')).rejects.toBeInstanceOf(RegistryError);
  });
});
