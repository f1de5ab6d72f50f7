/**
 * A compose-format stack file as shoal service and network specs. Supported: `services` with image,
 * command, environment, working_dir, user, hostname, labels, healthcheck, stop_signal,
 * stop_grace_period, ports, networks and `deploy` (mode, replicas, labels, update_config,
 * rollback_config, restart_policy, placement, resources, endpoint_mode); top-level `networks`
 * (overlay driver, attachable, labels, ipam.config[0].subnet, name, external). Anything else, and any invalid value, is refused with one error naming the key, so
 * that nothing of a file shoal would misread gets deployed. `x-` extension keys are ignored,
 * YAML anchors and merge keys work, and values are interpolated from the environment as compose
 * does (`${VAR}`, `${VAR:-default}`; compose-interpolate.ts).
 */
import { parseDocument } from 'yaml';
import {
  EndpointMode,
  HealthConfig,
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
  type NetworkSpec,
  type Placement,
  type PortConfig,
  type ResourceRequirements,
  type Resources,
  type RestartPolicy,
  type UpdateConfig,
} from '../../proto/gen/objects.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG } from '../../src/manager/controlapi/spec-defaults.js';
import { AddressError, parseSubnet } from '../../src/common/ipv4.js';
import { InvalidSpecError, validateServiceSpec } from '../../src/manager/controlapi/validate-spec.js';
import { interpolateTree, InterpolationError } from './compose-interpolate.js';
import { CliError } from './errors.js';
import { parsePorts, PortSyntaxError, protocols, publishModes } from './ports.js';
import { splitShellWords } from './shellwords.js';
import { parseCpus, parseDuration, parseMemory } from './units.js';

/** The label that marks a service as part of a stack, with the stack's name as value. */
export const STACK_NAMESPACE_LABEL = 'shoal.stack.namespace';

export interface StackService {
  /** The service's key in the file (`web`); the service itself is named `STACK_web`. */
  readonly key: string;
  /**
   * Validated, with the manager's defaults filled in, as the manager would store it, except that
   * `task.networks` name the networks (`shop_front`): the deploy resolves them to ids.
   */
  readonly spec: ServiceSpec;
}

export interface StackNetwork {
  /** The network's key in the file (`front`, or `default` for services that name none). */
  readonly key: string;
  /** Its name in the cluster: `STACK_front`, or the `name` the file gives. */
  readonly name: string;
  /** What to create; undefined for an `external: true` network, which must already exist. */
  readonly spec: NetworkSpec | undefined;
}

export interface StackFile {
  readonly services: StackService[];
  /** The networks the services use, in order of first use (declared ones no service uses are left out, as docker does). */
  readonly networks: StackNetwork[];
}

export interface ComposeOptions {
  readonly stack: string;
  /** The CLI's environment: where interpolated variables, and variables named without a value in `environment`, come from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The file's name, for error messages. */
  readonly file: string;
}

export class ComposeError extends CliError {
  constructor(file: string, path: string, problem: string) {
    super(`stack file ${file}: ${path === '' ? '' : `${path}: `}${problem}`);
    this.name = 'ComposeError';
  }
}

type YamlMap = Record<string, unknown>;

/** Raised inside the walk with the key path; rethrown as a ComposeError naming the file. */
class KeyError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(problem);
  }
}

const STACK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function parseStackFile(text: string, options: ComposeOptions): StackFile {
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) throw new ComposeError(options.file, '', `not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  try {
    return convertFile(interpolateTree(doc.toJS({ maxAliasCount: 1000 }), options.env), options);
  } catch (error) {
    if (error instanceof KeyError || error instanceof InterpolationError) throw new ComposeError(options.file, error.path, error.message);
    throw error;
  }
}

function convertFile(root: unknown, options: ComposeOptions): StackFile {
  if (!STACK_NAME.test(options.stack)) {
    throw new KeyError('', `invalid stack name "${options.stack}": use letters, digits, '_', '.' and '-', starting with a letter or digit`);
  }
  const top = mapAt(root, '', 'the file must be a mapping with a services key');
  checkKeys(top, '', ['version', 'services', 'networks']);
  const services = mapAt(top.services, 'services', 'required: a mapping of service names to services');
  const keys = Object.keys(services).filter((k) => !k.startsWith('x-'));
  if (keys.length === 0) throw new KeyError('services', 'no services defined');
  const declared = networksAt(top.networks, options.stack);
  const used = new Map<string, StackNetwork>();
  const converted = keys.map((key) => {
    const path = `services.${key}`;
    const svc = mapAt(services[key], path, 'must be a mapping');
    const spec = convertService(key, svc, path, options);
    spec.task!.networks = serviceNetworksAt(svc.networks, `${path}.networks`, key).map(({ network, aliases }) => {
      // Services that name no network share the stack's default one, as in docker.
      const found = declared.get(network) ?? (network === 'default' ? defaultNetwork(options.stack) : undefined);
      if (found === undefined) throw new KeyError(`${path}.networks`, `network "${network}" is not declared in the top-level networks`);
      if (!used.has(network)) used.set(network, found);
      return { target: found.name, aliases };
    });
    try {
      return { key, spec: validateServiceSpec(spec) };
    } catch (error) {
      if (error instanceof InvalidSpecError) throw new KeyError(path, error.message);
      throw error;
    }
  });
  return { services: converted, networks: [...used.values()] };
}

function defaultNetwork(stack: string): StackNetwork {
  return { key: 'default', name: `${stack}_default`, spec: networkSpec(`${stack}_default`, stack, {}, '', false) };
}

function networkSpec(name: string, stack: string, labels: Record<string, string>, subnet: string, attachable: boolean): NetworkSpec {
  return { annotations: { name, labels: { ...labels, [STACK_NAMESPACE_LABEL]: stack } }, driver: 'overlay', subnet, attachable, ingress: false };
}

/** The top-level `networks` by key. */
function networksAt(value: unknown, stack: string): Map<string, StackNetwork> {
  const declared = new Map<string, StackNetwork>();
  if (value === undefined || value === null) return declared;
  const networks = mapAt(value, 'networks', 'must be a mapping of network names to networks');
  for (const key of Object.keys(networks).filter((k) => !k.startsWith('x-'))) {
    const path = `networks.${key}`;
    const net = networks[key] === null ? {} : mapAt(networks[key], path, 'must be a mapping');
    checkKeys(net, path, ['driver', 'attachable', 'ipam', 'external', 'name', 'labels']);
    const name = stringAt(net.name, `${path}.name`);
    if (boolAt(net.external, `${path}.external`)) {
      const other = Object.keys(net).find((k) => k !== 'external' && k !== 'name' && !k.startsWith('x-'));
      if (other !== undefined) throw new KeyError(`${path}.${other}`, 'conflicts with external: true (an external network keeps the settings it was created with)');
      declared.set(key, { key, name: name ?? key, spec: undefined });
      continue;
    }
    const driver = stringAt(net.driver, `${path}.driver`) ?? 'overlay';
    if (driver !== 'overlay') throw new KeyError(`${path}.driver`, `"${driver}": shoal networks use the overlay driver only`);
    const fullName = name ?? `${stack}_${key}`;
    const spec = networkSpec(fullName, stack, labelsAt(net.labels, `${path}.labels`), subnetAt(net.ipam, `${path}.ipam`), boolAt(net.attachable, `${path}.attachable`));
    declared.set(key, { key, name: fullName, spec });
  }
  return declared;
}

/** `ipam: {config: [{subnet: CIDR}]}`: one subnet per network. */
function subnetAt(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  const ipam = mapAt(value, path, 'must be a mapping');
  checkKeys(ipam, path, ['driver', 'config']);
  const driver = stringAt(ipam.driver, `${path}.driver`);
  if (driver !== undefined && driver !== 'default') throw new KeyError(`${path}.driver`, `"${driver}": only the default IPAM driver exists in shoal`);
  const configs = ipam.config === undefined ? [] : listAt(ipam.config, `${path}.config`);
  if (configs.length > 1) throw new KeyError(`${path}.config`, 'a shoal network has one subnet');
  if (configs.length === 0) return '';
  const configPath = `${path}.config[0]`;
  const config = mapAt(configs[0], configPath, 'must be a mapping');
  checkKeys(config, configPath, ['subnet']);
  const subnet = stringAt(config.subnet, `${configPath}.subnet`) ?? '';
  try {
    if (subnet !== '') parseSubnet(subnet);
  } catch (error) {
    if (error instanceof AddressError) throw new KeyError(`${configPath}.subnet`, error.message);
    throw error;
  }
  return subnet;
}

/**
 * A service's `networks`: a list of keys, or a mapping of keys to `{aliases: [...]}`; none means
 * the default network. The service's key is always an alias, as docker makes it, so that the
 * stack's services find each other by their short names.
 */
function serviceNetworksAt(value: unknown, path: string, serviceKey: string): { network: string; aliases: string[] }[] {
  if (value === undefined || value === null) return [{ network: 'default', aliases: [serviceKey] }];
  if (Array.isArray(value)) return stringListAt(value, path).map((network) => ({ network, aliases: [serviceKey] }));
  const map = mapAt(value, path, 'must be a list of network names or a mapping');
  return Object.keys(map)
    .filter((k) => !k.startsWith('x-'))
    .map((network) => {
      const entryPath = `${path}.${network}`;
      if (map[network] === null) return { network, aliases: [serviceKey] };
      const entry = mapAt(map[network], entryPath, 'must be a mapping with aliases, or empty');
      checkKeys(entry, entryPath, ['aliases']);
      const aliases = entry.aliases === undefined ? [] : stringListAt(entry.aliases, `${entryPath}.aliases`);
      return { network, aliases: [serviceKey, ...aliases.filter((a) => a !== serviceKey)] };
    });
}

/** `ports`: short strings (`"8080:80"`, `"80"`, `"53:53/udp"`) or mappings (target, published, protocol, mode). */
function portsAt(value: unknown, path: string): PortConfig[] {
  if (value === undefined || value === null) return [];
  return listAt(value, path).flatMap((entry, i) => {
    const entryPath = `${path}[${i}]`;
    if (typeof entry === 'number' || typeof entry === 'string') {
      const text = String(entry);
      try {
        if (text.includes('=')) throw new PortSyntaxError('use the short form [PUBLISHED:]TARGET[/PROTOCOL] or a mapping');
        return parsePorts(text);
      } catch (error) {
        if (error instanceof PortSyntaxError) throw new KeyError(entryPath, error.message);
        throw error;
      }
    }
    const port = mapAt(entry, entryPath, 'must be a port like "8080:80" or a mapping with target');
    checkKeys(port, entryPath, ['target', 'published', 'protocol', 'mode']);
    const target = portAt(port.target, `${entryPath}.target`);
    if (target === undefined) throw new KeyError(`${entryPath}.target`, 'required');
    return [
      {
        targetPort: target,
        publishedPort: portAt(port.published, `${entryPath}.published`) ?? 0,
        protocol: choiceAt(port.protocol, `${entryPath}.protocol`, protocols) ?? protocols.tcp!,
        publishMode: choiceAt(port.mode, `${entryPath}.mode`, publishModes) ?? publishModes.ingress!,
      },
    ];
  });
}

/** A port number; compose also writes `published: "8080"` as a string. */
function portAt(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw new KeyError(path, 'must be a port number from 1 to 65535');
  return n;
}

const endpointModes: Record<string, EndpointMode> = { vip: EndpointMode.ENDPOINT_MODE_VIP, dnsrr: EndpointMode.ENDPOINT_MODE_DNSRR };

const serviceKeys = [
  'image',
  'command',
  'environment',
  'working_dir',
  'user',
  'hostname',
  'labels',
  'healthcheck',
  'stop_signal',
  'stop_grace_period',
  'ports',
  'networks',
  'deploy',
];

function convertService(key: string, svc: YamlMap, path: string, options: ComposeOptions): ServiceSpec {
  if ('entrypoint' in svc) {
    throw new KeyError(`${path}.entrypoint`, 'not supported by shoal (a service has a command only: put the whole command line in command)');
  }
  checkKeys(svc, path, serviceKeys);
  const image = stringAt(svc.image, `${path}.image`);
  if (image === undefined) throw new KeyError(`${path}.image`, 'required');
  const deploy = svc.deploy === undefined ? {} : mapAt(svc.deploy, `${path}.deploy`, 'must be a mapping');
  checkKeys(deploy, `${path}.deploy`, ['mode', 'replicas', 'labels', 'update_config', 'rollback_config', 'restart_policy', 'placement', 'resources', 'endpoint_mode']);

  const spec = ServiceSpec.fromPartial({
    annotations: {
      name: `${options.stack}_${key}`,
      labels: { ...labelsAt(deploy.labels, `${path}.deploy.labels`), [STACK_NAMESPACE_LABEL]: options.stack },
    },
    task: {
      container: {
        image,
        args: commandAt(svc.command, `${path}.command`),
        env: environmentAt(svc.environment, `${path}.environment`, options.env),
        dir: stringAt(svc.working_dir, `${path}.working_dir`) ?? '',
        user: stringAt(svc.user, `${path}.user`) ?? '',
        hostname: stringAt(svc.hostname, `${path}.hostname`) ?? '',
        labels: labelsAt(svc.labels, `${path}.labels`),
        stopSignal: stringAt(svc.stop_signal, `${path}.stop_signal`) ?? '',
        stopGracePeriodMs: durationAt(svc.stop_grace_period, `${path}.stop_grace_period`) ?? 0,
      },
    },
  });
  const task = spec.task!;
  task.container!.healthcheck = healthcheckAt(svc.healthcheck, `${path}.healthcheck`);
  task.resources = resourcesAt(deploy.resources, `${path}.deploy.resources`);
  task.restart = restartPolicyAt(deploy.restart_policy, `${path}.deploy.restart_policy`);
  task.placement = placementAt(deploy.placement, `${path}.deploy.placement`);
  spec.mode = modeAt(deploy, `${path}.deploy`);
  spec.update = updateConfigAt(deploy.update_config, `${path}.deploy.update_config`, 'update');
  spec.rollback = updateConfigAt(deploy.rollback_config, `${path}.deploy.rollback_config`, 'rollback');
  const ports = portsAt(svc.ports, `${path}.ports`);
  const endpointMode = choiceAt(deploy.endpoint_mode, `${path}.deploy.endpoint_mode`, endpointModes);
  if (ports.length > 0 || endpointMode !== undefined) spec.endpoint = { mode: endpointMode ?? EndpointMode.ENDPOINT_MODE_VIP, ports };
  return spec;
}

function modeAt(deploy: YamlMap, path: string): ServiceSpec['mode'] {
  const mode = stringAt(deploy.mode, `${path}.mode`) ?? 'replicated';
  if (mode === 'global') {
    if (deploy.replicas !== undefined) throw new KeyError(`${path}.replicas`, 'replicas can only be used with replicated mode');
    return { $case: 'global', global: {} };
  }
  if (mode !== 'replicated') throw new KeyError(`${path}.mode`, `"${mode}": use replicated or global`);
  return { $case: 'replicated', replicated: { replicas: uintAt(deploy.replicas, `${path}.replicas`) ?? 1 } };
}

function healthcheckAt(value: unknown, path: string): HealthConfig | undefined {
  if (value === undefined) return undefined;
  const hc = mapAt(value, path, 'must be a mapping');
  checkKeys(hc, path, ['test', 'interval', 'timeout', 'retries', 'start_period', 'disable']);
  if (hc.disable !== undefined && typeof hc.disable !== 'boolean') throw new KeyError(`${path}.disable`, 'must be true or false');
  if (hc.disable === true) {
    const others = Object.keys(hc).filter((k) => k !== 'disable' && !k.startsWith('x-'));
    if (others.length > 0) throw new KeyError(`${path}.${others[0]}`, 'conflicts with disable: true');
    return HealthConfig.fromPartial({ test: ['NONE'] });
  }
  return {
    test: healthTestAt(hc.test, `${path}.test`),
    intervalMs: durationAt(hc.interval, `${path}.interval`) ?? 0,
    timeoutMs: durationAt(hc.timeout, `${path}.timeout`) ?? 0,
    retries: uintAt(hc.retries, `${path}.retries`) ?? 0,
    startPeriodMs: durationAt(hc.start_period, `${path}.start_period`) ?? 0,
  };
}

/** A string is run by the shell (CMD-SHELL); a list names its form: ["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]. */
function healthTestAt(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return ['CMD-SHELL', stringAt(value, path)!];
  const list = stringListAt(value, path);
  if (list.length === 0) return [];
  if (!['CMD', 'CMD-SHELL', 'NONE'].includes(list[0]!)) throw new KeyError(path, `a list must start with CMD, CMD-SHELL or NONE, not "${list[0]}"`);
  return list;
}

function resourcesAt(value: unknown, path: string): ResourceRequirements | undefined {
  if (value === undefined) return undefined;
  const r = mapAt(value, path, 'must be a mapping');
  checkKeys(r, path, ['limits', 'reservations']);
  return { limits: resourceAmountsAt(r.limits, `${path}.limits`), reservations: resourceAmountsAt(r.reservations, `${path}.reservations`) };
}

function resourceAmountsAt(value: unknown, path: string): Resources | undefined {
  if (value === undefined) return undefined;
  const r = mapAt(value, path, 'must be a mapping');
  checkKeys(r, path, ['cpus', 'memory']);
  return {
    nanoCpus: r.cpus === undefined ? 0 : unitAt(r.cpus, `${path}.cpus`, parseCpus),
    memoryBytes: r.memory === undefined ? 0 : unitAt(r.memory, `${path}.memory`, parseMemory),
  };
}

const restartConditions: Record<string, RestartCondition> = {
  any: RestartCondition.RESTART_CONDITION_ANY,
  'on-failure': RestartCondition.RESTART_CONDITION_ON_FAILURE,
  none: RestartCondition.RESTART_CONDITION_NONE,
};

function restartPolicyAt(value: unknown, path: string): RestartPolicy | undefined {
  if (value === undefined) return undefined;
  const r = mapAt(value, path, 'must be a mapping');
  checkKeys(r, path, ['condition', 'delay', 'max_attempts', 'window']);
  return {
    condition: choiceAt(r.condition, `${path}.condition`, restartConditions) ?? DEFAULT_RESTART_POLICY.condition,
    delayMs: durationAt(r.delay, `${path}.delay`) ?? DEFAULT_RESTART_POLICY.delayMs,
    maxAttempts: uintAt(r.max_attempts, `${path}.max_attempts`) ?? DEFAULT_RESTART_POLICY.maxAttempts,
    windowMs: durationAt(r.window, `${path}.window`) ?? DEFAULT_RESTART_POLICY.windowMs,
  };
}

function placementAt(value: unknown, path: string): Placement | undefined {
  if (value === undefined) return undefined;
  const p = mapAt(value, path, 'must be a mapping');
  checkKeys(p, path, ['constraints', 'preferences', 'max_replicas_per_node']);
  const preferences = p.preferences === undefined ? [] : listAt(p.preferences, `${path}.preferences`);
  return {
    constraints: p.constraints === undefined ? [] : stringListAt(p.constraints, `${path}.constraints`),
    preferences: preferences.map((entry, i) => {
      const prefPath = `${path}.preferences[${i}]`;
      const pref = mapAt(entry, prefPath, 'must be a mapping like {spread: node.labels.zone}');
      checkKeys(pref, prefPath, ['spread']);
      const spread = stringAt(pref.spread, `${prefPath}.spread`);
      if (spread === undefined || spread === '') throw new KeyError(`${prefPath}.spread`, 'required');
      return { spread };
    }),
    maxReplicas: uintAt(p.max_replicas_per_node, `${path}.max_replicas_per_node`) ?? 0,
  };
}

const failureActions: Record<string, UpdateFailureAction> = {
  pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
  rollback: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
};
const orders: Record<string, UpdateOrder> = {
  'stop-first': UpdateOrder.UPDATE_ORDER_STOP_FIRST,
  'start-first': UpdateOrder.UPDATE_ORDER_START_FIRST,
};

function updateConfigAt(value: unknown, path: string, kind: 'update' | 'rollback'): UpdateConfig | undefined {
  if (value === undefined) return undefined;
  const u = mapAt(value, path, 'must be a mapping');
  checkKeys(u, path, ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order']);
  const actions = kind === 'update' ? failureActions : { pause: failureActions.pause!, continue: failureActions.continue! };
  const d = DEFAULT_UPDATE_CONFIG;
  return {
    parallelism: uintAt(u.parallelism, `${path}.parallelism`) ?? d.parallelism,
    delayMs: durationAt(u.delay, `${path}.delay`) ?? d.delayMs,
    failureAction: choiceAt(u.failure_action, `${path}.failure_action`, actions) ?? d.failureAction,
    monitorMs: durationAt(u.monitor, `${path}.monitor`) ?? d.monitorMs,
    maxFailureRatio: ratioAt(u.max_failure_ratio, `${path}.max_failure_ratio`) ?? d.maxFailureRatio,
    order: choiceAt(u.order, `${path}.order`, orders) ?? d.order,
  };
}

// ---------------------------------------------------------------------------------------------
// Typed readers: each names the key path when the value has the wrong shape.

function checkKeys(map: YamlMap, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(map)) {
    if (key.startsWith('x-') || allowed.includes(key)) continue;
    throw new KeyError(path === '' ? key : `${path}.${key}`, 'not supported by shoal');
  }
}

function mapAt(value: unknown, path: string, problem: string): YamlMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new KeyError(path, problem);
  return value as YamlMap;
}

function listAt(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new KeyError(path, 'must be a list');
  return value;
}

/** A scalar as a string: compose reads `user: 1000` as "1000". */
function stringAt(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw new KeyError(path, 'must be a string');
  return value;
}

function boolAt(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new KeyError(path, 'must be true or false');
  return value;
}

function stringListAt(value: unknown, path: string): string[] {
  return listAt(value, path).map((entry, i) => {
    const text = stringAt(entry, `${path}[${i}]`);
    if (text === undefined) throw new KeyError(`${path}[${i}]`, 'must be a string');
    return text;
  });
}

function uintAt(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new KeyError(path, 'must be a whole number, 0 or more');
  return value;
}

function ratioAt(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw new KeyError(path, 'must be a number between 0 and 1');
  return n;
}

function unitAt(value: unknown, path: string, parse: (text: string) => number): number {
  const text = stringAt(value, path);
  if (text === undefined) throw new KeyError(path, 'must not be empty');
  try {
    return parse(text);
  } catch (error) {
    throw new KeyError(path, error instanceof Error ? error.message : String(error));
  }
}

/** Durations are strings with units; a bare number is ambiguous (seconds? nanoseconds?) and refused. */
function durationAt(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new KeyError(path, 'must be a duration string with a unit, like 10s, 1m30s or 500ms');
  return unitAt(value, path, parseDuration);
}

function choiceAt<T>(value: unknown, path: string, choices: Readonly<Record<string, T>>): T | undefined {
  const text = stringAt(value, path);
  if (text === undefined) return undefined;
  if (!Object.hasOwn(choices, text)) throw new KeyError(path, `"${text}": use ${Object.keys(choices).join(', ')}`);
  return choices[text];
}

/** A string is split as a shell would (without expanding anything); a list is taken as is. */
function commandAt(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return stringListAt(value, path);
  const text = stringAt(value, path)!;
  try {
    return splitShellWords(text);
  } catch (error) {
    throw new KeyError(path, error instanceof Error ? error.message : String(error));
  }
}

/** `KEY=VALUE` list or KEY: VALUE mapping. A variable without a value comes from the CLI's environment, or is left out. */
function environmentAt(value: unknown, path: string, env: Readonly<Record<string, string | undefined>>): string[] {
  if (value === undefined || value === null) return [];
  const pairs: [string, string | undefined][] = Array.isArray(value)
    ? stringListAt(value, path).map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)];
      })
    : Object.entries(mapAt(value, path, 'must be a list of KEY=VALUE or a mapping')).map(([k, v]) => [k, stringAt(v, `${path}.${k}`)]);
  const out: string[] = [];
  for (const [key, val] of pairs) {
    if (key === '') throw new KeyError(path, 'a variable name is empty');
    const resolved = val ?? env[key];
    if (resolved !== undefined) out.push(`${key}=${resolved}`);
  }
  return out;
}

/** `key=value` list or key: value mapping. */
function labelsAt(value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      stringListAt(value, path).map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  const map = mapAt(value, path, 'must be a list of key=value or a mapping');
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, stringAt(v, `${path}.${k}`) ?? '']));
}
