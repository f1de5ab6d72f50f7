/**
 * Variable interpolation in a stack file, as compose does it, applied to every value (not to keys)
 * before the file is read: `$VAR` and `${VAR}` take the variable's value, `${VAR:-default}` the
 * default when VAR is unset or empty, `${VAR-default}` only when unset, `${VAR:?message}` and
 * `${VAR?message}` refuse the file with the message, and `$$` is a literal `$`.
 * Unlike compose, which warns and substitutes an empty string, a variable that is not set and has
 * no default refuses the file: an image or a command with a hole in it is never deployed.
 */

/** An interpolation problem at a key path (`services.web.image`). */
export class InterpolationError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(problem);
    this.name = 'InterpolationError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** `$$`, `$NAME`, `${NAME}`, `${NAME<op><word>}`; the op is one of :- - :? ?; a lone `$` matches nothing. */
const REFERENCE = new RegExp(`\\$(?:(\\$)|(${NAME})|\\{(${NAME})(?:(:-|-|:\\?|\\?)([^}]*))?\\})`, 'g');

/** A copy of the parsed file with every string value interpolated. */
export function interpolateTree(value: unknown, env: Env, path = ''): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path);
  if (Array.isArray(value)) return value.map((item, i) => interpolateTree(item, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateTree(item, env, path === '' ? key : `${path}.${key}`)]));
  }
  return value;
}

export function interpolateString(text: string, env: Env, path: string): string {
  const replaced = text.replace(REFERENCE, (_match, dollar?: string, bare?: string, braced?: string, op?: string, word = '') => {
    if (dollar) return '$';
    const name = (bare ?? braced)!;
    const value = env[name];
    switch (op) {
      case ':-':
        return value ? value : word;
      case '-':
        return value ?? word;
      case ':?':
        if (!value) throw new InterpolationError(path, `${name}: ${word || 'is not set or empty'}`);
        return value;
      case '?':
        if (value === undefined) throw new InterpolationError(path, `${name}: ${word || 'is not set'}`);
        return value;
      default:
        if (value === undefined) throw new InterpolationError(path, `variable ${name} is not set (give a default with \${${name}:-default}, or write $$ for a literal $)`);
        return value;
    }
  });
  // What is left of a `${` the pattern did not take is malformed (`${}`, `${1X}`, an unclosed `${A`).
  const stray = /\$\{[^}]*\}?/.exec(text.replace(REFERENCE, ''));
  if (stray) throw new InterpolationError(path, `invalid interpolation "${stray[0]}": use \${NAME}, \${NAME:-default} or $$ for a literal $`);
  return replaced;
}
