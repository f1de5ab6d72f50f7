import { describe, expect, it } from 'vitest';
import { EndpointMode, PortProtocol, PublishMode, RestartCondition, ServiceSpec, UpdateFailureAction, UpdateOrder } from '../../proto/gen/objects.js';
import { sameServiceSpec } from '../../src/manager/controlapi/spec-equality.js';
import { ComposeError, parseStackFile, STACK_NAMESPACE_LABEL } from './compose.js';

const options = { stack: 'shop', env: { DB_PASSWORD: 'from-shell' }, file: 'stack.yml' };

const goodFile = `
version: "3.8"
x-common: &common
  restart_policy:
    condition: on-failure
    delay: 2s
services:
  web:
    image: nginx:1.25
    command: nginx -g 'daemon off;'
    environment:
      MODE: production
      WORKERS: 4
      DB_PASSWORD:
    working_dir: /srv
    user: 1000
    hostname: web-host
    labels:
      - com.example.role=frontend
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 10s
      timeout: 3s
      retries: 3
      start_period: 1m
    stop_signal: SIGQUIT
    stop_grace_period: 30s
    deploy:
      mode: replicated
      replicas: 3
      labels:
        team: shop
      update_config:
        parallelism: 2
        delay: 10s
        failure_action: rollback
        monitor: 15s
        max_failure_ratio: 0.2
        order: start-first
      rollback_config:
        parallelism: 0
        failure_action: continue
      <<: *common
      placement:
        constraints: [node.role == worker, node.labels.zone != b]
        preferences:
          - spread: node.labels.zone
        max_replicas_per_node: 2
      resources:
        limits:
          cpus: '0.5'
          memory: 512M
        reservations:
          cpus: 0.25
          memory: 128m
  agent:
    image: agent:2
    command: ["run", "--verbose"]
    environment:
      - A=1
      - DB_PASSWORD
      - UNSET_HERE
    healthcheck:
      disable: true
    deploy:
      mode: global
`;

function refusal(text: string): string {
  try {
    parseStackFile(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ComposeError);
    return (error as Error).message;
  }
  return 'accepted';
}

/** A one-service file whose service has `body` (indented under it). */
const service = (body: string): string => `services:\n  web:\n    image: nginx\n${body.replace(/^/gm, '    ')}\n`;

describe('parseStackFile: a good file', () => {
  const [web, agent] = parseStackFile(goodFile, options).services;

  it('names services STACK_SERVICE and labels them with the stack', () => {
    expect(web!.key).toBe('web');
    expect(web!.spec.annotations).toEqual({ name: 'shop_web', labels: { team: 'shop', [STACK_NAMESPACE_LABEL]: 'shop' } });
    expect(agent!.spec.annotations?.name).toBe('shop_agent');
  });

  it('converts the container part; a string command is split as a shell would', () => {
    expect(web!.spec.task?.container).toEqual({
      image: 'nginx:1.25',
      command: [],
      args: ['nginx', '-g', 'daemon off;'],
      env: ['MODE=production', 'WORKERS=4', 'DB_PASSWORD=from-shell'],
      dir: '/srv',
      user: '1000',
      hostname: 'web-host',
      labels: { 'com.example.role': 'frontend' },
      healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost'], intervalMs: 10_000, timeoutMs: 3000, retries: 3, startPeriodMs: 60_000 },
      stopSignal: 'SIGQUIT',
      stopGracePeriodMs: 30_000,
    });
  });

  it('converts the deploy section, merge keys included', () => {
    const spec = web!.spec;
    expect(spec.mode).toEqual({ $case: 'replicated', replicated: { replicas: 3 } });
    expect(spec.update).toEqual({
      parallelism: 2,
      delayMs: 10_000,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
      monitorMs: 15_000,
      maxFailureRatio: 0.2,
      order: UpdateOrder.UPDATE_ORDER_START_FIRST,
    });
    expect(spec.rollback).toEqual({
      parallelism: 0,
      delayMs: 0,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
      monitorMs: 5000,
      maxFailureRatio: 0,
      order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
    });
    expect(spec.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 2000, maxAttempts: 0, windowMs: 0 });
    expect(spec.task?.placement).toEqual({
      constraints: ['node.role == worker', 'node.labels.zone != b'],
      preferences: [{ spread: 'node.labels.zone' }],
      maxReplicas: 2,
    });
    expect(spec.task?.resources).toEqual({
      limits: { nanoCpus: 500_000_000, memoryBytes: 512 * 1024 ** 2 },
      reservations: { nanoCpus: 250_000_000, memoryBytes: 128 * 1024 ** 2 },
    });
  });

  it('fills in the manager defaults where the file says nothing', () => {
    expect(agent!.spec.mode).toEqual({ $case: 'global', global: {} });
    expect(agent!.spec.task?.container?.args).toEqual(['run', '--verbose']);
    expect(agent!.spec.task?.container?.healthcheck?.test).toEqual(['NONE']);
    expect(agent!.spec.task?.container?.stopGracePeriodMs).toBe(10_000);
    expect(agent!.spec.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 5000, maxAttempts: 0, windowMs: 0 });
    expect(agent!.spec.update?.parallelism).toBe(1);
  });

  it('takes a variable without a value from the environment, and leaves it out when unset there', () => {
    expect(agent!.spec.task?.container?.env).toEqual(['A=1', 'DB_PASSWORD=from-shell']);
  });

  it('converts the same file to the same specs, also after a trip through the wire', () => {
    const again = parseStackFile(goodFile, options).services;
    const stored = ServiceSpec.decode(ServiceSpec.encode(web!.spec).finish());
    expect(sameServiceSpec(again[0]!.spec, web!.spec)).toBe(true);
    expect(sameServiceSpec(stored, again[0]!.spec)).toBe(true);
  });

  it('accepts a minimal file', () => {
    const [only] = parseStackFile('services:\n  web:\n    image: nginx\n', options).services;
    expect(only!.spec.mode).toEqual({ $case: 'replicated', replicated: { replicas: 1 } });
  });
});

describe('parseStackFile: interpolation from the environment', () => {
  const withEnv = (text: string, env: Record<string, string>) => parseStackFile(text, { ...options, env }).services;

  it('fills $VAR, ${VAR} and defaults in values, and reads $$ as a literal $', () => {
    const text = service('command: echo $$HOME ${GREETING:-hello} $WHO ${EMPTY-unset} ${EMPTY:-empty}').replace('image: nginx', 'image: ${REGISTRY}/busybox:${TAG-latest}');
    const [web] = withEnv(text, { REGISTRY: '10.0.0.1:5000', WHO: 'world', EMPTY: '' });
    expect(web!.spec.task?.container?.image).toBe('10.0.0.1:5000/busybox:latest');
    expect(web!.spec.task?.container?.args).toEqual(['echo', '$HOME', 'hello', 'world', 'empty']);
  });

  it('refuses a variable that is not set, naming the key, rather than deploy a value with a hole', () => {
    expect(refusal(service('environment:\n  A: ${NOT_SET_ANYWHERE}'))).toBe(
      'stack file stack.yml: services.web.environment.A: variable NOT_SET_ANYWHERE is not set (give a default with ${NOT_SET_ANYWHERE:-default}, or write $$ for a literal $)',
    );
    expect(refusal(service('user: ${NOT_SET_ANYWHERE:?the user to run as}'))).toBe('stack file stack.yml: services.web.user: NOT_SET_ANYWHERE: the user to run as');
    expect(refusal(service('hostname: ${1BAD}'))).toMatch(/services.web.hostname: invalid interpolation "\$\{1BAD\}"/);
  });
});

describe('parseStackFile: refusals name the key', () => {
  it('refuses what shoal does not support', () => {
    expect(refusal(service('volumes: ["/data:/data"]'))).toBe('stack file stack.yml: services.web.volumes: not supported by shoal');
    expect(refusal(service('entrypoint: ["sh"]'))).toMatch(/^stack file stack.yml: services.web.entrypoint: not supported by shoal/);
    expect(refusal(`${service('')}secrets:\n  key: {file: ./key}\n`)).toBe('stack file stack.yml: secrets: not supported by shoal');
    expect(refusal(`${service('')}networks:\n  front:\n    internal: true\n`)).toBe('stack file stack.yml: networks.front.internal: not supported by shoal');
    expect(refusal(service('ports:\n  - {target: 80, host_ip: 127.0.0.1}'))).toBe('stack file stack.yml: services.web.ports[0].host_ip: not supported by shoal');
    expect(refusal(service('deploy:\n  resources:\n    limits:\n      pids: 10'))).toBe(
      'stack file stack.yml: services.web.deploy.resources.limits.pids: not supported by shoal',
    );
    expect(refusal(service('healthcheck:\n  start_interval: 1s'))).toBe('stack file stack.yml: services.web.healthcheck.start_interval: not supported by shoal');
  });

  it('refuses values of the wrong shape', () => {
    expect(refusal(service('deploy:\n  update_config:\n    delay: 10'))).toBe(
      'stack file stack.yml: services.web.deploy.update_config.delay: must be a duration string with a unit, like 10s, 1m30s or 500ms',
    );
    expect(refusal(service('stop_grace_period: 10x'))).toMatch(/services.web.stop_grace_period: invalid duration "10x"/);
    expect(refusal(service('deploy:\n  replicas: -1'))).toBe('stack file stack.yml: services.web.deploy.replicas: must be a whole number, 0 or more');
    expect(refusal(service('deploy:\n  mode: everywhere'))).toBe('stack file stack.yml: services.web.deploy.mode: "everywhere": use replicated or global');
    expect(refusal(service('deploy:\n  mode: global\n  replicas: 2'))).toBe(
      'stack file stack.yml: services.web.deploy.replicas: replicas can only be used with replicated mode',
    );
    expect(refusal(service('deploy:\n  rollback_config:\n    failure_action: rollback'))).toBe(
      'stack file stack.yml: services.web.deploy.rollback_config.failure_action: "rollback": use pause, continue',
    );
    expect(refusal(service('deploy:\n  update_config:\n    max_failure_ratio: 2'))).toMatch(/max_failure_ratio: must be a number between 0 and 1/);
    expect(refusal(service('deploy:\n  resources:\n    limits:\n      memory: lots'))).toMatch(/limits.memory: invalid size "lots"/);
    expect(refusal(service('deploy:\n  placement:\n    preferences: [{spread: ""}]'))).toMatch(/placement.preferences\[0\].spread: required/);
    expect(refusal(service('healthcheck:\n  test: ["RUN", "x"]'))).toMatch(/healthcheck.test: a list must start with CMD, CMD-SHELL or NONE/);
    expect(refusal(service('healthcheck:\n  disable: true\n  retries: 3'))).toMatch(/healthcheck.retries: conflicts with disable: true/);
    expect(refusal(service('command: "echo \'unterminated"'))).toMatch(/services.web.command: unterminated/);
  });

  it('refuses what the manager would refuse, before anything is deployed', () => {
    expect(refusal(service('deploy:\n  placement:\n    constraints: ["node.zone==a"]'))).toMatch(
      /^stack file stack.yml: services.web: invalid spec: task.placement.constraints\[0\]/,
    );
    expect(refusal(service('working_dir: relative'))).toMatch(/services.web: invalid spec: task.container.dir/);
    expect(refusal('services:\n  web:\n    command: x\n')).toBe('stack file stack.yml: services.web.image: required');
  });

  it('refuses files that are not a stack', () => {
    expect(refusal('services: [\n')).toMatch(/^stack file stack.yml: not valid YAML: /);
    expect(refusal('just text')).toBe('stack file stack.yml: the file must be a mapping with a services key');
    expect(refusal('version: "3"\n')).toBe('stack file stack.yml: services: required: a mapping of service names to services');
    expect(refusal('services: {}\n')).toBe('stack file stack.yml: services: no services defined');
    expect(refusal('services:\n  web: nginx\n')).toBe('stack file stack.yml: services.web: must be a mapping');
  });

  it('refuses a stack name that cannot prefix service names', () => {
    expect(() => parseStackFile(service(''), { ...options, stack: 'my stack' })).toThrow(/invalid stack name "my stack"/);
  });
});

describe('parseStackFile: networks and ports', () => {
  const file = `services:
  web:
    image: nginx
    ports:
      - "8080:80"
      - 443
      - "53:53/udp"
      - {target: 9000, published: "9001", protocol: tcp, mode: host}
    networks:
      front:
        aliases: [www]
      back:
  db:
    image: postgres
    networks: [back]
    deploy:
      endpoint_mode: dnsrr
  cache:
    image: redis
networks:
  front:
    attachable: true
    labels: {tier: front}
    ipam:
      config: [{subnet: 10.20.0.0/24}]
  back: {}
  shared:
    external: true
  unused: {}
`;
  const { services, networks } = parseStackFile(file, options);
  const [web, db, cache] = services;

  it('converts both port syntaxes, with tcp, ingress and an allocated published port as defaults', () => {
    expect(web!.spec.endpoint).toEqual({
      mode: EndpointMode.ENDPOINT_MODE_VIP,
      ports: [
        { targetPort: 80, publishedPort: 8080, protocol: PortProtocol.PORT_PROTOCOL_TCP, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
        { targetPort: 443, publishedPort: 0, protocol: PortProtocol.PORT_PROTOCOL_TCP, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
        { targetPort: 53, publishedPort: 53, protocol: PortProtocol.PORT_PROTOCOL_UDP, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
        { targetPort: 9000, publishedPort: 9001, protocol: PortProtocol.PORT_PROTOCOL_TCP, publishMode: PublishMode.PUBLISH_MODE_HOST },
      ],
    });
    expect(db!.spec.endpoint).toEqual({ mode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [] });
    expect(cache!.spec.endpoint).toBeUndefined();
  });

  it('attaches services by network name with the service key as an alias; no networks means STACK_default', () => {
    expect(web!.spec.task?.networks).toEqual([
      { target: 'shop_front', aliases: ['web', 'www'] },
      { target: 'shop_back', aliases: ['web'] },
    ]);
    expect(db!.spec.task?.networks).toEqual([{ target: 'shop_back', aliases: ['db'] }]);
    expect(cache!.spec.task?.networks).toEqual([{ target: 'shop_default', aliases: ['cache'] }]);
  });

  it('lists the networks the services use, labelled with the stack, in order of first use', () => {
    expect(networks.map((n) => n.name)).toEqual(['shop_front', 'shop_back', 'shop_default']);
    expect(networks[0]!.spec).toEqual({
      annotations: { name: 'shop_front', labels: { tier: 'front', [STACK_NAMESPACE_LABEL]: 'shop' } },
      driver: 'overlay',
      subnet: '10.20.0.0/24',
      attachable: true,
      ingress: false,
    });
    expect(networks[2]!.spec?.annotations?.labels).toEqual({ [STACK_NAMESPACE_LABEL]: 'shop' });
  });

  it('keeps an external network by its own name, with nothing to create', () => {
    const ext = parseStackFile(`${service('networks: [shared]')}networks:\n  shared:\n    external: true\n    name: corp-net\n`, options);
    expect(ext.networks).toEqual([{ key: 'shared', name: 'corp-net', spec: undefined }]);
    expect(ext.services[0]!.spec.task?.networks).toEqual([{ target: 'corp-net', aliases: ['web'] }]);
  });

  it('refuses bad ports, undeclared networks and what shoal networks cannot be', () => {
    expect(refusal(service('ports: ["127.0.0.1:80:80"]'))).toMatch(/services.web.ports\[0\]: a host address is not supported/);
    expect(refusal(service('ports: ["80:70000"]'))).toMatch(/services.web.ports\[0\]: invalid target port "70000"/);
    expect(refusal(service('ports: ["80/sctp"]'))).toMatch(/services.web.ports\[0\]: invalid protocol "sctp"/);
    expect(refusal(service('ports: [{published: 80}]'))).toBe('stack file stack.yml: services.web.ports[0].target: required');
    expect(refusal(service('ports: [{target: 80, mode: bridge}]'))).toMatch(/ports\[0\].mode: "bridge": use ingress, host/);
    expect(refusal(service('networks: [nowhere]'))).toBe('stack file stack.yml: services.web.networks: network "nowhere" is not declared in the top-level networks');
    expect(refusal(`${service('')}networks:\n  front: {driver: bridge}\n`)).toMatch(/networks.front.driver: "bridge": shoal networks use the overlay driver only/);
    expect(refusal(`${service('')}networks:\n  front: {ipam: {config: [{subnet: 10.0.0.1/24}]}}\n`)).toMatch(/networks.front.ipam.config\[0\].subnet: invalid subnet "10.0.0.1\/24": host bits are set/);
    expect(refusal(`${service('')}networks:\n  front: {external: true, attachable: true}\n`)).toMatch(/networks.front.attachable: conflicts with external: true/);
    expect(refusal(service('deploy:\n  endpoint_mode: nat'))).toMatch(/deploy.endpoint_mode: "nat": use vip, dnsrr/);
  });
});
