import type { PlacementPreference } from '../../proto/gen/objects.js';
import { Heap } from './heap.js';
import { comparableValue, nodeAttribute, parseAttributeKey, type NodeAttribute } from './node-attributes.js';
import type { NodeInfo } from './node-info.js';

/** Parses a preference's `spread` attribute (`node.labels.zone`); throws an Error naming it when invalid. */
export function parseSpread(spread: string): NodeAttribute {
  const attribute = parseAttributeKey(spread.trim());
  if (typeof attribute === 'string') throw new Error(`invalid placement preference "spread=${spread}": ${attribute}`);
  return attribute;
}

/** What is wrong with a preference, or undefined when it is valid (for rejecting service specs). */
export function validatePreference(preference: PlacementPreference): string | undefined {
  try {
    parseSpread(preference.spread);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Records a task on the chosen node, so that every later choice sees it. */
export type Place = (node: NodeInfo) => void;

interface Subtree {
  /** The attribute value this subtree groups; undefined for the nodes lacking it. */
  readonly value: string | undefined;
  /** Active tasks of the service on the subtree's nodes (eligible or not): what spreading evens out. */
  count: number;
  /** Places one task in this subtree; undefined when no node in it can take another. */
  placeNext(place: Place): NodeInfo | undefined;
}

/** Nodes lacking the label form their own group, ranked after any real value on a tie. */
function subtreeBefore(a: Subtree, b: Subtree): boolean {
  if (a.count !== b.count) return a.count < b.count;
  if (a.value === undefined || b.value === undefined) return b.value === undefined && a.value !== undefined;
  return a.value < b.value;
}

interface Candidate {
  readonly node: NodeInfo;
  readonly ofService: number;
  readonly total: number;
}

/**
 * The nodes of one branch, taken in ranking order from a heap: the fewest active tasks of the
 * service, then the fewest active tasks overall, then the smallest id (so equal nodes are always
 * taken in the same order).
 */
class Leaf implements Subtree {
  count = 0;
  private readonly candidates: Heap<Candidate>;

  constructor(
    readonly value: string | undefined,
    private readonly serviceId: string,
    nodes: readonly NodeInfo[],
    private readonly fits: (node: NodeInfo) => boolean,
  ) {
    // The heap keeps each node's counts as they were when pushed; only the node just placed on
    // changes while it is out of the heap, so the keys stay true.
    this.candidates = new Heap<Candidate>((a, b) => {
      if (a.ofService !== b.ofService) return a.ofService < b.ofService;
      if (a.total !== b.total) return a.total < b.total;
      return a.node.id < b.node.id;
    });
    for (const node of nodes) {
      this.count += node.activeTasksOfService(serviceId);
      if (fits(node)) this.push(node);
    }
  }

  placeNext(place: Place): NodeInfo | undefined {
    const best = this.candidates.pop();
    if (best === undefined) return undefined;
    place(best.node);
    this.count++;
    if (this.fits(best.node)) this.push(best.node);
    return best.node;
  }

  private push(node: NodeInfo): void {
    this.candidates.push({ node, ofService: node.activeTasksOfService(this.serviceId), total: node.activeTasks });
  }
}

/** Nodes grouped by one attribute's value; each task goes to the group with the fewest tasks of the service. */
class Branch implements Subtree {
  count = 0;
  private readonly children = new Heap<Subtree>(subtreeBefore);

  constructor(
    readonly value: string | undefined,
    children: readonly Subtree[],
  ) {
    for (const child of children) {
      this.count += child.count;
      this.children.push(child);
    }
  }

  placeNext(place: Place): NodeInfo | undefined {
    // A child that cannot take a task is dropped for good: within one plan, nodes only fill up.
    for (let child = this.children.pop(); child !== undefined; child = this.children.pop()) {
      const node = child.placeNext(place);
      if (node === undefined) continue;
      this.count++;
      this.children.push(child);
      return node;
    }
    return undefined;
  }
}

function buildSubtree(
  value: string | undefined,
  serviceId: string,
  spreads: readonly NodeAttribute[],
  nodes: readonly NodeInfo[],
  fits: (node: NodeInfo) => boolean,
): Subtree {
  const [spread, ...deeper] = spreads;
  if (spread === undefined) return new Leaf(value, serviceId, nodes, fits);
  const groups = new Map<string | undefined, NodeInfo[]>();
  for (const node of nodes) {
    const raw = nodeAttribute(node.node, spread);
    const key = raw === undefined ? undefined : comparableValue(spread, raw);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [node]);
    else group.push(node);
  }
  const children = [...groups].map(([key, members]) => buildSubtree(key, serviceId, deeper, members, fits));
  return new Branch(value, children);
}

/**
 * Where the tasks of one group go. `nodes` are the nodes the group may use at all (they pass every
 * filter that looks at the node alone); `fits` says whether one still has room. With preferences,
 * the nodes form a tree, one level per preference, and each task descends into the branch holding
 * the fewest tasks of the service; within the last level, nodes are ranked as `Leaf` describes.
 */
export class PlacementTree {
  private readonly root: Subtree;

  constructor(serviceId: string, spreads: readonly NodeAttribute[], nodes: readonly NodeInfo[], fits: (node: NodeInfo) => boolean) {
    this.root = buildSubtree(undefined, serviceId, spreads, nodes, fits);
  }

  /** Chooses the node for the next task and lets `place` record it there; undefined when no node can take it. */
  placeNext(place: Place): NodeInfo | undefined {
    return this.root.placeNext(place);
  }
}
