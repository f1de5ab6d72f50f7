/**
 * A plausibility check of container image references, following the grammar of docker's
 * distribution/reference: `[DOMAIN[:PORT]/]PATH[/PATH...][:TAG][@DIGEST]`. It does not resolve
 * anything; it only catches what could never be pulled.
 */

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);

/** Docker's limit on the repository name (domain and path, without tag or digest). */
const MAX_NAME_LENGTH = 255;

/** The problem with `ref` as an image reference, or undefined when it is plausible. */
export function imageReferenceProblem(ref: string): string | undefined {
  const match = REFERENCE.exec(ref);
  if (match === null) {
    const lowered = ref.toLowerCase();
    if (lowered !== ref && REFERENCE.test(lowered)) return `"${ref}": repository name must be lowercase`;
    return `"${ref}": not a valid image reference`;
  }
  if (match[1].length > MAX_NAME_LENGTH) return `"${ref}": repository name longer than ${MAX_NAME_LENGTH} characters`;
  return undefined;
}
