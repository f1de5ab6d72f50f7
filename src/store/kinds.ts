/**
 * The object kinds the store keeps, and the conversions between a kind-tagged object and the
 * StoreObject oneof that carries it in Raft entries and snapshots.
 */
import { Cluster, Config, Network, Node, Secret, Service, Task, type Meta } from '../../proto/gen/objects.js';
import type { StoreObject } from '../../proto/gen/store.js';
import type { ObjectKind, ObjectTypes } from './types.js';

/** Every kind, in the fixed order snapshots are written in (so every manager writes the same bytes). */
export const OBJECT_KINDS: readonly ObjectKind[] = ['cluster', 'node', 'service', 'task', 'network', 'secret', 'config'];

/** An object together with its kind; switching on `kind` narrows `object`. */
export type KindedObject = { [K in ObjectKind]: { kind: K; object: ObjectTypes[K] } }[ObjectKind];

export function toStoreObject(o: KindedObject): StoreObject {
  switch (o.kind) {
    case 'cluster':
      return { object: { $case: 'cluster', cluster: o.object } };
    case 'node':
      return { object: { $case: 'node', node: o.object } };
    case 'service':
      return { object: { $case: 'service', service: o.object } };
    case 'task':
      return { object: { $case: 'task', task: o.object } };
    case 'network':
      return { object: { $case: 'network', network: o.object } };
    case 'secret':
      return { object: { $case: 'secret', secret: o.object } };
    case 'config':
      return { object: { $case: 'config', config: o.object } };
  }
}

/** The kind-tagged object a StoreObject carries; undefined when the oneof is empty. */
export function fromStoreObject(so: StoreObject | undefined): KindedObject | undefined {
  const o = so?.object;
  switch (o?.$case) {
    case undefined:
      return undefined;
    case 'cluster':
      return { kind: 'cluster', object: o.cluster };
    case 'node':
      return { kind: 'node', object: o.node };
    case 'service':
      return { kind: 'service', object: o.service };
    case 'task':
      return { kind: 'task', object: o.task };
    case 'network':
      return { kind: 'network', object: o.network };
    case 'secret':
      return { kind: 'secret', object: o.secret };
    case 'config':
      return { kind: 'config', object: o.config };
  }
}

/** An object of `kind` carrying nothing but `meta`: what a delete sends through Raft. */
export function metaOnly(kind: ObjectKind, meta: Meta): KindedObject {
  switch (kind) {
    case 'cluster':
      return { kind, object: Cluster.fromPartial({ meta }) };
    case 'node':
      return { kind, object: Node.fromPartial({ meta }) };
    case 'service':
      return { kind, object: Service.fromPartial({ meta }) };
    case 'task':
      return { kind, object: Task.fromPartial({ meta }) };
    case 'network':
      return { kind, object: Network.fromPartial({ meta }) };
    case 'secret':
      return { kind, object: Secret.fromPartial({ meta }) };
    case 'config':
      return { kind, object: Config.fromPartial({ meta }) };
  }
}
