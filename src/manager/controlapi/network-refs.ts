/**
 * A service spec's networks, named by the user (name, id or id prefix), turned into network ids
 * as the store keeps them. Naming a network that does not exist is refused, and so is naming the
 * ingress network: services reach it only by publishing ports, as in docker.
 */
import type { ServiceSpec } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { InvalidSpecError } from './invalid-spec-error.js';
import { findNetwork } from './lookup.js';
import { ControlError } from './control-errors.js';

export function resolveNetworks(tx: ReadTx, spec: ServiceSpec): ServiceSpec {
  const networks = spec.task?.networks ?? [];
  if (networks.length === 0) return spec;
  const seen = new Set<string>();
  const resolved = networks.map((attachment, i) => {
    const field = `task.networks[${i}].target`;
    let network;
    try {
      network = findNetwork(tx, attachment.target);
    } catch (err) {
      if (err instanceof ControlError) throw new InvalidSpecError(field, err.message);
      throw err;
    }
    if (network.spec?.ingress) throw new InvalidSpecError(field, `${attachment.target} is the ingress network; publish ports to use it`);
    const id = network.meta!.id;
    if (seen.has(id)) throw new InvalidSpecError(field, `network ${attachment.target} is named twice`);
    seen.add(id);
    return { ...attachment, target: id };
  });
  return { ...spec, task: { ...spec.task!, networks: resolved } };
}
