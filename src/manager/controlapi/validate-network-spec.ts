/**
 * Network spec validation: a name, the overlay driver (an empty driver means overlay), and a
 * subnet in CIDR notation if one is given. Overlaps and a second ingress network depend on the
 * store and are checked when the network is allocated.
 */
import { NetworkSpec } from '../../../proto/gen/objects.js';
import { AddressError, formatSubnet, parseSubnet } from '../../common/ipv4.js';
import { InvalidSpecError } from './invalid-spec-error.js';
import { checkLabels } from './spec-checks.js';

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_NETWORK_NAME_LENGTH = 63;
export const OVERLAY_DRIVER = 'overlay';

/** A copy of `spec` with the driver filled in and the subnet in canonical form, or InvalidSpecError. */
export function validateNetworkSpec(spec: NetworkSpec): NetworkSpec {
  const checked = NetworkSpec.fromPartial(spec);
  const name = checked.annotations?.name ?? '';
  if (name === '') throw new InvalidSpecError('annotations.name', 'a network name is required');
  if (name.length > MAX_NETWORK_NAME_LENGTH) throw new InvalidSpecError('annotations.name', `"${name}" is longer than ${MAX_NETWORK_NAME_LENGTH} characters`);
  if (!NETWORK_NAME.test(name)) {
    throw new InvalidSpecError('annotations.name', `"${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`);
  }
  checkLabels('annotations.labels', checked.annotations?.labels ?? {});
  if (checked.driver === '') checked.driver = OVERLAY_DRIVER;
  if (checked.driver !== OVERLAY_DRIVER) throw new InvalidSpecError('driver', `"${checked.driver}" is not supported; only "${OVERLAY_DRIVER}" is`);
  if (checked.subnet !== '') {
    try {
      checked.subnet = formatSubnet(parseSubnet(checked.subnet));
    } catch (err) {
      if (err instanceof AddressError) throw new InvalidSpecError('subnet', err.message);
      throw err;
    }
  }
  return checked;
}
