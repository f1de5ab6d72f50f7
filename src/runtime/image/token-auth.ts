/**
 * Registry authentication after a 401 (distribution's token auth spec): a Bearer challenge names a
 * token realm, service and scope; the token is fetched (anonymously, or with basic credentials when
 * some are configured for that registry), cached per realm, service and scope until it expires, and
 * sent on later requests up front so that a pull does not pay a 401 per request. A Basic challenge
 * is answered with the credentials directly.
 */
import { systemClock, type Clock } from '../../common/clock.js';
import { parseChallenge, type AuthChallenge } from './auth-challenge.js';
import { RegistryError, RegistryUnreachableError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryAuthOptions {
  /** Credentials for a registry (`host:port`), if any; anonymous otherwise. */
  credentials?: (registry: string) => Credentials | undefined;
  clock?: Clock;
  fetch?: typeof fetch;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** The spec's floor: a token without `expires_in` lives 60 seconds. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are dropped a little early so that one does not expire between check and use. */
const EXPIRY_MARGIN_MS = 5_000;

export class RegistryAuth {
  private readonly clock: Clock;
  private readonly fetchFn: typeof fetch;
  /** The last Bearer challenge seen from each registry: its realm and service apply to every scope. */
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, CachedToken>();

  constructor(private readonly options: RegistryAuthOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The Authorization header to send up front for `scope`, when a live token is cached. */
  cached(registry: string, scope: string): string | undefined {
    const challenge = this.challenges.get(registry);
    if (!challenge) return undefined;
    const token = this.tokens.get(tokenKey(challenge, scope));
    if (!token) return undefined;
    if (token.expiresAt <= this.clock.now()) {
      this.tokens.delete(tokenKey(challenge, scope));
      return undefined;
    }
    return `Bearer ${token.value}`;
  }

  /**
   * Answers a 401's `WWW-Authenticate` header: returns the Authorization header to retry with.
   * `scope` is what the request needs; the challenge's own scope wins when it names one.
   */
  async answer(registry: string, header: string | null, scope: string): Promise<string> {
    const challenge = header ? parseChallenge(header) : null;
    const credentials = this.options.credentials?.(registry);
    if (challenge?.scheme === 'basic') {
      if (!credentials) throw new RegistryError(`registry ${registry} requires credentials`, 401);
      return basic(credentials);
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
      throw new RegistryError(`registry ${registry} answered 401 without a usable challenge: ${header ?? '(none)'}`, 401);
    }
    this.challenges.set(registry, challenge);
    const wanted = challenge.params.scope ?? scope;
    const token = await this.fetchToken(challenge, wanted, credentials);
    this.tokens.set(tokenKey(challenge, wanted), token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(challenge: AuthChallenge, scope: string, credentials?: Credentials): Promise<CachedToken> {
    const url = new URL(challenge.params.realm!);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (credentials) headers.authorization = basic(credentials);
    const started = this.clock.now();
    let response: Response;
    try {
      response = await this.fetchFn(url, { headers });
    } catch (e) {
      throw new RegistryUnreachableError(`token server ${url.host}`, errorCause(e));
    }
    if (!response.ok) {
      await response.body?.cancel();
      const why = response.status === 401 ? 'refused the credentials' : `answered ${response.status}`;
      throw new RegistryError(`token server ${url.host} ${why} for ${scope}`, response.status);
    }
    const body = (await response.json().catch(() => null)) as {
      token?: unknown;
      access_token?: unknown;
      expires_in?: unknown;
    } | null;
    const value = typeof body?.token === 'string' ? body.token : body?.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new RegistryError(`token server ${url.host} sent no token for ${scope}`);
    }
    const seconds = typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    return { value, expiresAt: started + seconds * 1000 - EXPIRY_MARGIN_MS };
  }
}

function tokenKey(challenge: AuthChallenge, scope: string): string {
  return `${challenge.params.realm}\n${challenge.params.service ?? ''}\n${scope}`;
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The most specific reason a fetch failed: undici hides the system error (ECONNREFUSED) in `cause`. */
export function errorCause(e: unknown): string {
  const cause = e instanceof Error ? (e.cause ?? e) : e;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
