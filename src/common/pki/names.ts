/**
 * X.501 distinguished names, limited to the attributes shoal uses: O (cluster id), OU (role) and
 * CN (node id or the CA's name).
 */
import { children, DerError, expectTag, oid, readOid, readString, sequence, setOf, TAG, utf8String, type DerElement } from './der.js';

export interface DistinguishedName {
  commonName: string;
  organizationalUnit?: string;
  organization?: string;
}

const ATTRIBUTE_OIDS = {
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  commonName: '2.5.4.3',
} as const;

type Attribute = keyof typeof ATTRIBUTE_OIDS;

// Most significant first, the order openssl and Go print and build names in.
const ENCODING_ORDER: Attribute[] = ['organization', 'organizationalUnit', 'commonName'];

function attribute(name: Attribute, value: string): Buffer {
  return setOf(sequence(oid(ATTRIBUTE_OIDS[name]), utf8String(value)));
}

/** Name ::= SEQUENCE OF RelativeDistinguishedName, one attribute per RDN. */
export function encodeName(name: DistinguishedName): Buffer {
  const rdns: Buffer[] = [];
  for (const key of ENCODING_ORDER) {
    const value = name[key];
    if (value !== undefined) rdns.push(attribute(key, value));
  }
  return sequence(...rdns);
}

/**
 * Reads O, OU and CN from a Name. Other attributes are ignored; a repeated O, OU or CN is refused,
 * since identity is read from these fields and must not be ambiguous.
 */
export function decodeName(element: DerElement): DistinguishedName {
  expectTag(element, TAG.SEQUENCE, 'Name');
  const found: Partial<Record<Attribute, string>> = {};
  for (const rdn of children(element)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName');
    for (const pair of children(rdn)) {
      const [type, value] = children(expectTag(pair, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      const typeOid = readOid(expectTag(type, TAG.OID, 'attribute type'));
      const key = ENCODING_ORDER.find((k) => ATTRIBUTE_OIDS[k] === typeOid);
      if (!key) continue;
      if (found[key] !== undefined) throw new DerError(`name repeats the ${key} attribute`);
      if (!value) throw new DerError(`name attribute ${key} has no value`);
      found[key] = readString(value);
    }
  }
  if (found.commonName === undefined) throw new DerError('name has no common name (CN)');
  const name: DistinguishedName = { commonName: found.commonName };
  if (found.organizationalUnit !== undefined) name.organizationalUnit = found.organizationalUnit;
  if (found.organization !== undefined) name.organization = found.organization;
  return name;
}
