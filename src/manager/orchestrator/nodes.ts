/** What the orchestrators ask of a node: may it get new tasks, may it keep the ones it has. */
import { NodeAvailability, NodeState, type Node } from '../../../proto/gen/objects.js';

/** Ready and active: new tasks may be placed there. */
export function nodeAcceptsTasks(node: Node | undefined): boolean {
  return (
    node !== undefined &&
    node.status?.state === NodeState.NODE_STATE_READY &&
    (node.spec?.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE) === NodeAvailability.NODE_AVAILABILITY_ACTIVE
  );
}

/**
 * Still there, not down, not drained: its tasks stay (a paused node keeps its tasks; a disconnected
 * one may come back).
 */
export function nodeKeepsTasks(node: Node | undefined): boolean {
  return node !== undefined && node.status?.state !== NodeState.NODE_STATE_DOWN && !isDrained(node);
}

function isDrained(node: Node): boolean {
  return node.spec?.availability === NodeAvailability.NODE_AVAILABILITY_DRAIN;
}
