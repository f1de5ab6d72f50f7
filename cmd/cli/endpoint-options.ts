/**
 * The network and endpoint flags of `service create` and `service update`: `--network` (a name or
 * `name=NAME,alias=A`), `--publish`, `--endpoint-mode`, and on update their `-add`/`-rm` forms.
 * Networks are named on the command line and stored by id: the command resolves every name first
 * (`networkRefs`, then ControlApi.getNetwork) and hands the answers in as `NetworkIds`.
 */
import { EndpointMode, PortProtocol, type EndpointSpec, type NetworkAttachmentConfig, type PortConfig, type ServiceSpec, type TaskSpec } from '../../proto/gen/objects.js';
import { CliError, UsageError } from './errors.js';
import { choiceFlag } from './flag-values.js';
import type { FlagSpec, ParsedFlags } from './flags.js';
import { parsePortPatterns, parsePorts, PortSyntaxError, type PortPattern } from './ports.js';

/** A network's id by the name or id prefix the user gave. */
export type NetworkIds = ReadonlyMap<string, string>;

const endpointModeFlag: FlagSpec = { name: 'endpoint-mode', kind: 'string', value: 'string', help: 'Endpoint mode ("vip" or "dnsrr") (default "vip")' };

export const endpointCreateFlags: FlagSpec[] = [
  { name: 'network', kind: 'list', value: 'network', help: 'Network attachments (NAME, or name=NAME,alias=ALIAS)' },
  { name: 'publish', short: 'p', kind: 'list', value: 'port', help: 'Publish a port as a node port (PUBLISHED:TARGET[/PROTO], TARGET, or published=P,target=T,protocol=tcp|udp,mode=ingress|host)' },
  endpointModeFlag,
];

export const endpointUpdateFlags: FlagSpec[] = [
  { name: 'network-add', kind: 'list', value: 'network', help: 'Add a network (NAME, or name=NAME,alias=ALIAS)' },
  { name: 'network-rm', kind: 'list', value: 'list', help: 'Remove a network' },
  { name: 'publish-add', kind: 'list', value: 'port', help: 'Add or update a published port' },
  { name: 'publish-rm', kind: 'list', value: 'port', help: 'Remove a published port by its target port (TARGET[/PROTO]) or published port (published=P)' },
  endpointModeFlag,
];

const endpointModes = { vip: EndpointMode.ENDPOINT_MODE_VIP, dnsrr: EndpointMode.ENDPOINT_MODE_DNSRR };

/** `NAME`, or docker's long form `name=NAME,alias=A,alias=B`. */
export function parseNetworkAttachment(text: string, flag: string): NetworkAttachmentConfig {
  if (!text.includes('=')) {
    if (text.trim() === '') throw new UsageError(`invalid value "" for --${flag}: the network name is empty`);
    return { target: text.trim(), aliases: [] };
  }
  const attachment: NetworkAttachmentConfig = { target: '', aliases: [] };
  for (const field of text.split(',')) {
    const eq = field.indexOf('=');
    const key = field.slice(0, Math.max(eq, 0)).trim();
    const value = field.slice(eq + 1).trim();
    if (key === 'name') attachment.target = value;
    else if (key === 'alias' && value !== '') attachment.aliases.push(value);
    else throw new UsageError(`invalid value "${text}" for --${flag}: use NAME or name=NAME,alias=ALIAS ("${field}" is not one of those)`);
  }
  if (attachment.target === '') throw new UsageError(`invalid value "${text}" for --${flag}: name=NAME is required`);
  return attachment;
}

/** The networks the flags of `service create` or `service update` name, to be resolved to ids before the spec is built. */
export function networkRefs(flags: ParsedFlags, command: 'create' | 'update'): string[] {
  const given =
    command === 'create'
      ? flags.list('network').map((n) => parseNetworkAttachment(n, 'network').target)
      : [...flags.list('network-add').map((n) => parseNetworkAttachment(n, 'network-add').target), ...flags.list('network-rm')];
  return [...new Set(given)];
}

function resolved(ids: NetworkIds, ref: string): string {
  const id = ids.get(ref);
  // The command resolves every name networkRefs returns: a miss is a bug, not a user error.
  if (id === undefined) throw new Error(`network ${ref} was not resolved`);
  return id;
}

function publishFlag(flags: ParsedFlags, name: string): PortConfig[] {
  return flags.list(name).flatMap((text) => {
    try {
      return parsePorts(text);
    } catch (error) {
      if (error instanceof PortSyntaxError) throw new UsageError(`invalid value "${text}" for --${name}: ${error.message}`);
      throw error;
    }
  });
}

function endpointOf(spec: ServiceSpec): EndpointSpec {
  return (spec.endpoint ??= { mode: EndpointMode.ENDPOINT_MODE_VIP, ports: [] });
}

/** `--network`, `--publish` and `--endpoint-mode` on create. */
export function applyEndpointCreateFlags(spec: ServiceSpec, task: TaskSpec, flags: ParsedFlags, ids: NetworkIds): void {
  const attachments = flags.list('network').map((text) => parseNetworkAttachment(text, 'network'));
  const seen = new Set<string>();
  for (const attachment of attachments) {
    const id = resolved(ids, attachment.target);
    if (seen.has(id)) throw new UsageError(`network ${attachment.target} is given more than once`);
    seen.add(id);
    task.networks.push({ target: id, aliases: attachment.aliases });
  }
  const ports = publishFlag(flags, 'publish');
  const mode = choiceFlag(flags, 'endpoint-mode', endpointModes);
  if (ports.length > 0) endpointOf(spec).ports = ports;
  if (mode !== undefined) endpointOf(spec).mode = mode;
}

/**
 * `--network-add/-rm`, `--publish-add/-rm` and `--endpoint-mode` on update, docker's way: removals
 * first, then additions; an added port replaces one with the same published port and protocol.
 */
export function applyEndpointUpdateFlags(spec: ServiceSpec, task: TaskSpec, flags: ParsedFlags, ids: NetworkIds): void {
  if (flags.has('network-add') || flags.has('network-rm')) {
    const removed = new Set(flags.list('network-rm').map((ref) => resolved(ids, ref)));
    const networks = task.networks.filter((n) => !removed.has(n.target));
    for (const attachment of flags.list('network-add').map((text) => parseNetworkAttachment(text, 'network-add'))) {
      const id = resolved(ids, attachment.target);
      if (networks.some((n) => n.target === id)) throw new CliError(`service is already attached to network ${attachment.target}`);
      networks.push({ target: id, aliases: attachment.aliases });
    }
    task.networks = networks;
  }
  if (flags.has('publish-add') || flags.has('publish-rm')) {
    const removals = flags.list('publish-rm').flatMap((text) => removalPatterns(text));
    const added = publishFlag(flags, 'publish-add');
    const endpoint = endpointOf(spec);
    const kept = endpoint.ports.filter((port) => !removals.some((pattern) => matches(pattern, port)));
    const replaced = (port: PortConfig) =>
      added.some((a) => a.protocol === port.protocol && (a.publishedPort > 0 ? a.publishedPort === port.publishedPort : sameConfig(a, port)));
    endpoint.ports = [...kept.filter((port) => !replaced(port)), ...added];
  }
  const mode = choiceFlag(flags, 'endpoint-mode', endpointModes);
  if (mode !== undefined) endpointOf(spec).mode = mode;
}

function removalPatterns(text: string): PortPattern[] {
  try {
    return parsePortPatterns(text, true);
  } catch (error) {
    if (error instanceof PortSyntaxError) throw new UsageError(`invalid value "${text}" for --publish-rm: ${error.message}`);
    throw error;
  }
}

/** A removal names a port by what it gives: target, published port, protocol (tcp when not said), mode. */
function matches(pattern: PortPattern, port: PortConfig): boolean {
  return (
    (pattern.target === undefined || pattern.target === port.targetPort) &&
    (pattern.published === undefined || pattern.published === port.publishedPort) &&
    (pattern.protocol ?? PortProtocol.PORT_PROTOCOL_TCP) === port.protocol &&
    (pattern.mode === undefined || pattern.mode === port.publishMode)
  );
}

function sameConfig(a: PortConfig, b: PortConfig): boolean {
  return a.targetPort === b.targetPort && a.publishedPort === b.publishedPort && a.protocol === b.protocol && a.publishMode === b.publishMode;
}
