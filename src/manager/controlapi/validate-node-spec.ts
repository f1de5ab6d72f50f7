/** What an operator may set on a node (`shoal node update`): labels, availability, role. */
import { NodeAvailability, NodeRole, NodeSpec } from '../../../proto/gen/objects.js';
import { checkEnum, checkLabels } from './spec-checks.js';

/** Returns a copy of `spec` with its annotations present, or throws InvalidSpecError. */
export function validateNodeSpec(spec: NodeSpec): NodeSpec {
  const checked = NodeSpec.fromPartial(spec);
  checked.annotations ??= { name: '', labels: {} };
  checkLabels('annotations.labels', checked.annotations.labels);
  checkEnum('availability', NodeAvailability, checked.availability);
  checkEnum('desiredRole', NodeRole, checked.desiredRole);
  return checked;
}
