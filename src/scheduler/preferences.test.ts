import { describe, expect, it } from 'vitest';
import { NodeState } from '../../proto/gen/objects.js';
import { buildNodeInfos, NodeInfo } from './node-info.js';
import { validatePreference } from './preferences.js';
import { planPlacements, type PlacementPlan } from './schedule.js';
import { GiB, makeNode, pendingTasks, runningTask, type NodeOptions } from './testing/objects.js';
import { countByNode } from './testing/plans.js';

function zoneNodes(spec: Record<string, NodeOptions>): NodeInfo[] {
  return Object.entries(spec).map(([id, options]) => new NodeInfo(makeNode(id, options)));
}

/** How many tasks a plan put in each value of a node label ("-" for nodes without it). */
function countByLabel(plan: PlacementPlan, nodes: NodeInfo[], label: string): Record<string, number> {
  const labelOf = new Map(nodes.map((n) => [n.id, n.node.spec?.annotations?.labels[label] ?? '-']));
  const counts: Record<string, number> = {};
  for (const { nodeId } of plan.assigned) {
    const value = labelOf.get(nodeId)!;
    counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}

const spreadZone = { spread: ['node.labels.zone'] };

describe('placement preferences', () => {
  it('spreads over the values of a label, not over nodes, when zones have uneven node counts', () => {
    const nodes = zoneNodes({
      a1: { labels: { zone: 'a' } },
      a2: { labels: { zone: 'a' } },
      a3: { labels: { zone: 'a' } },
      b1: { labels: { zone: 'b' } },
    });
    const plan = planPlacements(nodes, pendingTasks(8, 't', spreadZone));
    expect(countByLabel(plan, nodes, 'zone')).toEqual({ a: 4, b: 4 });
    expect(countByNode(plan)).toEqual({ a1: 2, a2: 1, a3: 1, b1: 4 });
  });

  it('evens out the tasks already running in each zone', () => {
    const nodes = [...buildNodeInfos(
      [makeNode('a1', { labels: { zone: 'a' } }), makeNode('b1', { labels: { zone: 'b' } }), makeNode('c1', { labels: { zone: 'c' } })],
      [runningTask('r1', 'a1'), runningTask('r2', 'a1'), runningTask('r3', 'a1'), runningTask('r4', 'b1')],
    ).values()];
    const plan = planPlacements(nodes, pendingTasks(5, 't', spreadZone));
    // a has 3, b 1, c 0: c gets 2 to reach b's level... then b and c alternate up to a's 3.
    expect(countByNode(plan)).toEqual({ b1: 2, c1: 3 });
  });

  it('puts nodes without the label in a group of their own', () => {
    const nodes = zoneNodes({ x1: { labels: { zone: 'x' } }, y1: { labels: { zone: 'y' } }, bare1: {}, bare2: {} });
    const plan = planPlacements(nodes, pendingTasks(6, 't', spreadZone));
    expect(countByLabel(plan, nodes, 'zone')).toEqual({ x: 2, y: 2, '-': 2 });
    expect(countByNode(plan)).toEqual({ x1: 2, y1: 2, bare1: 1, bare2: 1 });
  });

  it('nests several preferences: zones first, then racks within each zone', () => {
    const nodes = zoneNodes({
      'x-r1': { labels: { zone: 'x', rack: 'r1' } },
      'x-r2a': { labels: { zone: 'x', rack: 'r2' } },
      'x-r2b': { labels: { zone: 'x', rack: 'r2' } },
      'y-r1': { labels: { zone: 'y', rack: 'r1' } },
    });
    const plan = planPlacements(nodes, pendingTasks(8, 't', { spread: ['node.labels.zone', 'node.labels.rack'] }));
    expect(countByLabel(plan, nodes, 'zone')).toEqual({ x: 4, y: 4 });
    expect(countByNode(plan)).toEqual({ 'x-r1': 2, 'x-r2a': 1, 'x-r2b': 1, 'y-r1': 4 });
  });

  it('sends tasks to other zones once a zone is full, and explains when all are', () => {
    const nodes = zoneNodes({
      a1: { labels: { zone: 'a' }, memoryBytes: GiB },
      b1: { labels: { zone: 'b' }, memoryBytes: 3 * GiB },
    });
    const plan = planPlacements(nodes, pendingTasks(5, 't', { ...spreadZone, memoryBytes: GiB }));
    expect(countByNode(plan)).toEqual({ a1: 1, b1: 3 });
    expect(plan.unschedulable.map((u) => u.message)).toEqual(['no suitable node (insufficient memory on 2 nodes)']);
  });

  it('leaves out zones whose nodes cannot take the task at all', () => {
    const nodes = zoneNodes({
      a1: { labels: { zone: 'a' }, state: NodeState.NODE_STATE_DOWN },
      b1: { labels: { zone: 'b' } },
      c1: { labels: { zone: 'c' } },
    });
    const plan = planPlacements(nodes, pendingTasks(4, 't', spreadZone));
    expect(countByNode(plan)).toEqual({ b1: 2, c1: 2 });
  });

  it('validates the attribute a preference spreads over', () => {
    expect(validatePreference({ spread: 'node.labels.zone' })).toBeUndefined();
    expect(validatePreference({ spread: 'engine.labels.dc' })).toBeUndefined();
    expect(validatePreference({ spread: 'zone' })).toContain('invalid placement preference "spread=zone": unknown key "zone"');
    expect(validatePreference({ spread: 'node.labels.' })).toContain('needs a label name');
  });
});
