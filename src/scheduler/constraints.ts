import type { Node } from '../../proto/gen/objects.js';
import { comparableValue, nodeAttribute, parseAttributeKey, type NodeAttribute } from './node-attributes.js';

/** One parsed placement constraint, e.g. `node.labels.zone!=b`. */
export interface Constraint {
  readonly expression: string;
  readonly attribute: NodeAttribute;
  readonly operator: '==' | '!=';
  /** The expected value, already in comparable form. */
  readonly value: string;
}

/** Parses one expression; throws an Error naming the expression and what is wrong with it. */
export function parseConstraint(expression: string): Constraint {
  const problem = (why: string): Error => new Error(`invalid constraint "${expression}": ${why}`);
  const eq = expression.indexOf('==');
  const ne = expression.indexOf('!=');
  const at = eq === -1 ? ne : ne === -1 ? eq : Math.min(eq, ne);
  if (at === -1) throw problem('expected KEY==VALUE or KEY!=VALUE');
  const operator = at === eq ? '==' : '!=';
  const key = expression.slice(0, at).trim();
  const rawValue = expression.slice(at + 2).trim();
  if (key === '') throw problem('the key is empty');
  if (rawValue === '') throw problem('the value is empty');
  if (rawValue.includes('==') || rawValue.includes('!=')) throw problem('more than one operator');
  const attribute = parseAttributeKey(key);
  if (typeof attribute === 'string') throw problem(attribute);
  const value = comparableValue(attribute, rawValue);
  if (attribute.kind === 'role' && value !== 'manager' && value !== 'worker') {
    throw problem('node.role is manager or worker');
  }
  return { expression, attribute, operator, value };
}

/** Parses every expression; throws on the first bad one. */
export function parseConstraints(expressions: readonly string[]): Constraint[] {
  return expressions.map(parseConstraint);
}

/** What is wrong with an expression, or undefined when it is valid (for rejecting service specs). */
export function validateConstraint(expression: string): string | undefined {
  try {
    parseConstraint(expression);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Whether the node satisfies one constraint. A label the node lacks reads as empty, so `!=` holds. */
export function matchesConstraint(node: Node, constraint: Constraint): boolean {
  const actual = comparableValue(constraint.attribute, nodeAttribute(node, constraint.attribute) ?? '');
  return (actual === constraint.value) === (constraint.operator === '==');
}

export function matchesConstraints(node: Node, constraints: readonly Constraint[]): boolean {
  return constraints.every((c) => matchesConstraint(node, c));
}
