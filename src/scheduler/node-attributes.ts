import { NodeRole, type Node } from '../../proto/gen/objects.js';

/**
 * The node attributes that constraints and placement preferences name, e.g. `node.labels.zone`.
 * Keys are case-insensitive; label names are not.
 */
export type NodeAttribute =
  | { kind: 'id' | 'hostname' | 'role' | 'os' | 'arch' }
  | { kind: 'nodeLabel' | 'engineLabel'; label: string };

const fixedKeys: Record<string, NodeAttribute> = {
  'node.id': { kind: 'id' },
  'node.hostname': { kind: 'hostname' },
  'node.role': { kind: 'role' },
  'node.platform.os': { kind: 'os' },
  'node.platform.arch': { kind: 'arch' },
};

const labelPrefixes: ReadonlyArray<readonly [string, 'nodeLabel' | 'engineLabel']> = [
  ['node.labels.', 'nodeLabel'],
  ['engine.labels.', 'engineLabel'],
];

export const knownKeys =
  'node.id, node.hostname, node.role, node.labels.NAME, node.platform.os, node.platform.arch or engine.labels.NAME';

/** The attribute `key` names, or a message saying why it names none. */
export function parseAttributeKey(key: string): NodeAttribute | string {
  const lower = key.toLowerCase();
  const fixed = fixedKeys[lower];
  if (fixed !== undefined) return fixed;
  for (const [prefix, kind] of labelPrefixes) {
    if (!lower.startsWith(prefix)) continue;
    const label = key.slice(prefix.length);
    if (label === '' || /\s/.test(label)) return `"${key}" needs a label name without spaces after "${prefix}"`;
    return { kind, label };
  }
  return `unknown key "${key}" (use ${knownKeys})`;
}

const roleNames: Record<NodeRole, string> = {
  [NodeRole.NODE_ROLE_WORKER]: 'worker',
  [NodeRole.NODE_ROLE_MANAGER]: 'manager',
  [NodeRole.UNRECOGNIZED]: 'unknown',
};

/** The value of an attribute on a node; undefined when the node lacks that label. */
export function nodeAttribute(node: Node, attribute: NodeAttribute): string | undefined {
  switch (attribute.kind) {
    case 'id':
      return node.meta?.id ?? '';
    case 'hostname':
      return node.description?.hostname ?? '';
    case 'role':
      return roleNames[node.role];
    case 'os':
      return node.description?.platform?.os ?? '';
    case 'arch':
      return node.description?.platform?.architecture ?? '';
    case 'nodeLabel':
      return node.spec?.annotations?.labels[attribute.label];
    case 'engineLabel':
      return node.description?.labels[attribute.label];
  }
}

/** Whether values of this attribute compare case-insensitively (as docker does for role and platform). */
export function isCaseInsensitive(attribute: NodeAttribute): boolean {
  return attribute.kind === 'role' || attribute.kind === 'os' || attribute.kind === 'arch';
}

const archAliases: Record<string, string> = { x86_64: 'amd64', x64: 'amd64', aarch64: 'arm64' };

/**
 * The form a value is compared in. Architectures have several names for one thing (Node.js says
 * x64 where docker says amd64), so they are folded onto docker's.
 */
export function comparableValue(attribute: NodeAttribute, value: string): string {
  if (!isCaseInsensitive(attribute)) return value;
  const lower = value.toLowerCase();
  return attribute.kind === 'arch' ? (archAliases[lower] ?? lower) : lower;
}
