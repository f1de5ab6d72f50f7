import { describe, expect, it } from 'vitest';
import { NodeRole } from '../../proto/gen/objects.js';
import { matchesConstraints, parseConstraint, parseConstraints, validateConstraint } from './constraints.js';
import { makeNode } from './testing/objects.js';

function matches(expression: string, node = makeNode('n1')): boolean {
  return matchesConstraints(node, parseConstraints([expression]));
}

describe('parseConstraint', () => {
  it('reads the key, operator and value, ignoring spaces around them', () => {
    expect(parseConstraint(' node.labels.zone != b ')).toMatchObject({
      attribute: { kind: 'nodeLabel', label: 'zone' },
      operator: '!=',
      value: 'b',
    });
    expect(parseConstraint('node.role==worker')).toMatchObject({ attribute: { kind: 'role' }, operator: '==', value: 'worker' });
  });

  it('accepts every documented key, with the fixed part of the key in any case', () => {
    for (const expression of [
      'node.id==abc',
      'node.hostname==web-1',
      'NODE.ROLE==Manager',
      'node.labels.zone==eu-1',
      'node.platform.os==linux',
      'node.platform.arch==x86_64',
      'engine.labels.disk==ssd',
    ]) {
      expect(validateConstraint(expression), expression).toBeUndefined();
    }
  });

  it('rejects bad expressions with a message naming the expression and the problem', () => {
    const cases: Array<[string, string]> = [
      ['node.role=worker', 'expected KEY==VALUE or KEY!=VALUE'],
      ['==worker', 'the key is empty'],
      ['node.id==  ', 'the value is empty'],
      ['node.colour==red', 'unknown key "node.colour"'],
      ['node.labels.==x', 'needs a label name'],
      ['node.role==boss', 'node.role is manager or worker'],
      ['node.id==a==b', 'more than one operator'],
    ];
    for (const [expression, why] of cases) {
      const message = validateConstraint(expression);
      expect(message, expression).toContain(`invalid constraint "${expression}"`);
      expect(message, expression).toContain(why);
      expect(() => parseConstraint(expression)).toThrow(why);
    }
  });

  it('parseConstraints fails on the first bad expression of a list', () => {
    expect(() => parseConstraints(['node.role==worker', 'zone==a'])).toThrow('invalid constraint "zone==a"');
  });
});

describe('matching constraints', () => {
  it('matches node.id and node.hostname exactly', () => {
    const node = makeNode('n1', { hostname: 'Web-1' });
    expect(matches('node.id==n1', node)).toBe(true);
    expect(matches('node.id!=n1', node)).toBe(false);
    expect(matches('node.hostname==Web-1', node)).toBe(true);
    expect(matches('node.hostname==web-1', node)).toBe(false);
  });

  it('matches the role case-insensitively', () => {
    const manager = makeNode('m', { role: NodeRole.NODE_ROLE_MANAGER });
    expect(matches('node.role==MANAGER', manager)).toBe(true);
    expect(matches('node.role==worker', manager)).toBe(false);
    expect(matches('node.role!=manager', makeNode('w'))).toBe(true);
  });

  it('matches the platform case-insensitively and knows the aliases of an architecture', () => {
    const node = makeNode('n', { os: 'Linux', arch: 'x64' });
    expect(matches('node.platform.os==linux', node)).toBe(true);
    expect(matches('node.platform.arch==amd64', node)).toBe(true);
    expect(matches('node.platform.arch==x86_64', node)).toBe(true);
    expect(matches('node.platform.arch==arm64', node)).toBe(false);
    expect(matches('node.platform.arch==aarch64', makeNode('a', { arch: 'arm64' }))).toBe(true);
  });

  it('matches labels exactly, and treats a missing label as empty', () => {
    const node = makeNode('n', { labels: { zone: 'eu' }, engineLabels: { disk: 'ssd' } });
    expect(matches('node.labels.zone==eu', node)).toBe(true);
    expect(matches('node.labels.zone==EU', node)).toBe(false);
    expect(matches('node.labels.Zone==eu', node)).toBe(false);
    expect(matches('node.labels.rack==r1', node)).toBe(false);
    expect(matches('node.labels.rack!=r1', node)).toBe(true);
    expect(matches('engine.labels.disk==ssd', node)).toBe(true);
    // Operator labels and the labels a node reports about itself are separate.
    expect(matches('node.labels.disk==ssd', node)).toBe(false);
    expect(matches('engine.labels.zone==eu', node)).toBe(false);
  });

  it('requires every constraint of a list', () => {
    const node = makeNode('n', { labels: { zone: 'eu' } });
    expect(matchesConstraints(node, parseConstraints(['node.labels.zone==eu', 'node.role==worker']))).toBe(true);
    expect(matchesConstraints(node, parseConstraints(['node.labels.zone==eu', 'node.role==manager']))).toBe(false);
    expect(matchesConstraints(node, [])).toBe(true);
  });
});
