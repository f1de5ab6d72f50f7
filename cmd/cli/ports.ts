/**
 * Published ports as docker writes them: the `--publish` values (and the compose `ports` short
 * form) parsed into PortConfigs, and PortConfigs shown as `*:30000->80/tcp` in the PORTS columns.
 */
import { PortProtocol, PublishMode, type PortConfig } from '../../proto/gen/objects.js';

export const protocols: Readonly<Record<string, PortProtocol>> = { tcp: PortProtocol.PORT_PROTOCOL_TCP, udp: PortProtocol.PORT_PROTOCOL_UDP };
export const publishModes: Readonly<Record<string, PublishMode>> = { ingress: PublishMode.PUBLISH_MODE_INGRESS, host: PublishMode.PUBLISH_MODE_HOST };

/** A port value that cannot be read; the caller names the flag or key. */
export class PortSyntaxError extends Error {}

/** A published port as the user wrote it; `undefined` fields were not given. */
export interface PortPattern {
  readonly target?: number;
  readonly published?: number;
  readonly protocol?: PortProtocol;
  readonly mode?: PublishMode;
}

/**
 * `published=8080,target=80,protocol=udp,mode=host` (any order; target required unless
 * `targetOptional`, as `--publish-rm published=8080` allows), or the short form.
 */
export function parsePortPatterns(text: string, targetOptional = false): PortPattern[] {
  if (!text.includes('=')) return parseShortPorts(text);
  const fields: { target?: number; published?: number; protocol?: PortProtocol; mode?: PublishMode } = {};
  for (const field of text.split(',')) {
    const eq = field.indexOf('=');
    const key = field.slice(0, Math.max(eq, 0)).trim();
    const value = field.slice(eq + 1).trim();
    if (eq <= 0) throw new PortSyntaxError(`"${field}" is not KEY=VALUE (keys: published, target, protocol, mode)`);
    switch (key) {
      case 'target':
        fields.target = portNumber(value, 'target');
        break;
      case 'published':
        fields.published = portNumber(value, 'published');
        break;
      case 'protocol':
        fields.protocol = word(value, protocols, 'protocol');
        break;
      case 'mode':
        fields.mode = word(value, publishModes, 'mode');
        break;
      default:
        throw new PortSyntaxError(`unknown key "${key}" (keys: published, target, protocol, mode)`);
    }
  }
  if (fields.target === undefined && !(targetOptional && fields.published !== undefined)) throw new PortSyntaxError('target is required');
  return [fields];
}

/** Ports to publish: the patterns with docker's defaults (tcp, ingress, published 0 = chosen by the manager). */
export function parsePorts(text: string): PortConfig[] {
  return parsePortPatterns(text).map((p) => ({
    targetPort: p.target!,
    publishedPort: p.published ?? 0,
    protocol: p.protocol ?? PortProtocol.PORT_PROTOCOL_TCP,
    publishMode: p.mode ?? PublishMode.PUBLISH_MODE_INGRESS,
  }));
}

/**
 * `[PUBLISHED:]TARGET[/PROTOCOL]`, either side a range (`8080-8081:80-81`); TARGET alone leaves the
 * published port to the manager. A host address (`127.0.0.1:8080:80`) is refused: a published port
 * listens on every address of every node.
 */
function parseShortPorts(text: string): PortPattern[] {
  const slash = text.lastIndexOf('/');
  const protocol = slash < 0 ? PortProtocol.PORT_PROTOCOL_TCP : word(text.slice(slash + 1), protocols, 'protocol');
  const parts = (slash < 0 ? text : text.slice(0, slash)).split(':');
  if (parts.length > 2) throw new PortSyntaxError('a host address is not supported: published ports listen on every address (use PUBLISHED:TARGET)');
  const targets = portRange(parts.at(-1)!, 'target');
  if (parts.length === 1) return targets.map((target) => ({ target, protocol }));
  const published = portRange(parts[0]!, 'published');
  if (published.length !== targets.length) {
    // docker's one exception: a range of published ports onto one target port.
    if (targets.length !== 1) throw new PortSyntaxError(`the published range ${parts[0]} and the target range ${parts[1]} differ in length`);
    return published.map((p) => ({ target: targets[0]!, published: p, protocol }));
  }
  return targets.map((target, i) => ({ target, published: published[i]!, protocol }));
}

function portRange(text: string, what: string): number[] {
  const dash = text.indexOf('-');
  if (dash < 0) return [portNumber(text, what)];
  const first = portNumber(text.slice(0, dash), what);
  const last = portNumber(text.slice(dash + 1), what);
  if (last < first) throw new PortSyntaxError(`invalid ${what} range ${text}: the end is below the start`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function portNumber(text: string, what: string): number {
  const n = /^\d{1,5}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new PortSyntaxError(`invalid ${what} port "${text}": use a number from 1 to 65535`);
  return n;
}

function word<T>(text: string, choices: Readonly<Record<string, T>>, what: string): T {
  const value = choices[text.trim().toLowerCase()];
  if (value === undefined) throw new PortSyntaxError(`invalid ${what} "${text}": use ${Object.keys(choices).join(' or ')}`);
  return value;
}

export function protocolName(protocol: PortProtocol): string {
  return protocol === PortProtocol.PORT_PROTOCOL_UDP ? 'udp' : 'tcp';
}

export function publishModeName(mode: PublishMode): string {
  return mode === PublishMode.PUBLISH_MODE_HOST ? 'host' : 'ingress';
}

/**
 * `*:30000->80/tcp, *:8080-8081->80-81/udp`: ports sorted by protocol and published port, runs
 * where both sides count up by one shown as ranges, as docker's PORTS columns do. Ports without a
 * published port (not allocated yet) are left out.
 */
export function formatPorts(ports: readonly PortConfig[]): string {
  const sorted = ports.filter((p) => p.publishedPort > 0).sort((a, b) => a.protocol - b.protocol || a.publishedPort - b.publishedPort || a.targetPort - b.targetPort);
  const runs: { first: PortConfig; last: PortConfig }[] = [];
  for (const port of sorted) {
    const run = runs.at(-1);
    if (run && run.last.protocol === port.protocol && port.publishedPort === run.last.publishedPort + 1 && port.targetPort === run.last.targetPort + 1) run.last = port;
    else runs.push({ first: port, last: port });
  }
  const span = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
  return runs
    .map(({ first, last }) => `*:${span(first.publishedPort, last.publishedPort)}->${span(first.targetPort, last.targetPort)}/${protocolName(first.protocol)}`)
    .join(', ');
}
