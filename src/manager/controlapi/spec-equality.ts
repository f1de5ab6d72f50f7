/**
 * Whether two service specs say the same thing. Specs are compared as protobuf bytes, so absent and
 * default values count as equal, as they do on the wire; map entries are put in key order first,
 * because protobuf encodes a map in whatever order its keys were inserted.
 */
import { ServiceSpec } from '../../../proto/gen/objects.js';

export function sameServiceSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  return Buffer.from(encodeCanonical(a)).equals(encodeCanonical(b));
}

function encodeCanonical(spec: ServiceSpec): Uint8Array {
  const container = spec.task?.container;
  const canonical: ServiceSpec = {
    ...spec,
    annotations: spec.annotations && { ...spec.annotations, labels: sortedByKey(spec.annotations.labels) },
    task: spec.task && {
      ...spec.task,
      container: container && { ...container, labels: sortedByKey(container.labels) },
    },
  };
  return ServiceSpec.encode(canonical).finish();
}

function sortedByKey(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
