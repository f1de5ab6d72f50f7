/**
 * Parses a `WWW-Authenticate` header (RFC 7235) into its scheme and parameters, as registries send
 * it on a 401: `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"`.
 */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

const SCHEME = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*/;
const PARAM = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/;

/** The first challenge in the header; registries send one. Null when the header is unusable. */
export function parseChallenge(header: string): AuthChallenge | null {
  const scheme = SCHEME.exec(header);
  if (!scheme) return null;
  let rest = header.slice(scheme[0].length);
  const params: Record<string, string> = {};
  for (;;) {
    const m = PARAM.exec(rest);
    if (!m || m[0].length === 0) break;
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    rest = rest.slice(m[0].length);
  }
  return { scheme: scheme[1]!.toLowerCase(), params };
}
