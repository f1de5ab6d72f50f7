/**
 * `shoal network`, the network and port flags of `service create|update` and the networks of
 * `stack deploy|rm`, run as the built CLI (dist/cmd/shoal.js) against the fake manager.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliRunner } from './testing/cli-runner.js';
import { FakeControl } from './testing/fake-control.js';


const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-net-'));
const socket = join(dir, 'control.sock');
const fake = new FakeControl();

const shoal = cliRunner(socket);

const networkNamed = (name: string) => fake.networks.find((n) => n.spec?.annotations?.name === name);
const serviceNamed = (name: string) => [...fake.services.values()].find((s) => s.spec?.annotations?.name === name);

beforeAll(() => fake.listen(socket));
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('shoal network', () => {
  it('create prints the id and sends the driver, subnet, attachable and labels', async () => {
    const r = await shoal('network', 'create', '-d', 'overlay', '--subnet', '10.30.0.0/24', '--attachable', '--label', 'tier=front', 'front');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${networkNamed('front')!.meta!.id}\n`);
    expect(networkNamed('front')!.spec).toEqual({ annotations: { name: 'front', labels: { tier: 'front' } }, driver: 'overlay', subnet: '10.30.0.0/24', attachable: true, ingress: false });
    expect((await shoal('network', 'create', 'back')).code).toBe(0);
  });

  it('create refuses another driver, a bad subnet and a name in use', async () => {
    const driver = await shoal('network', 'create', '--driver', 'bridge', 'x');
    expect(driver.code).toBe(2);
    expect(driver.stderr).toBe(`shoal network create: invalid value "bridge" for --driver: shoal networks use the overlay driver only (see 'shoal network create --help')\n`);
    const subnet = await shoal('network', 'create', '--subnet', '10.0.0.0/33', 'x');
    expect(subnet.code).toBe(2);
    expect(subnet.stderr).toMatch(/^shoal network create: invalid value for --subnet: invalid subnet "10.0.0.0\/33"/);
    const taken = await shoal('network', 'create', 'front');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toBe('shoal: network front already exists\n');
  });

  it('ls shows docker\'s columns sorted by name; filters, -q, --no-trunc and JSON work', async () => {
    const r = await shoal('network', 'ls');
    expect(r.code).toBe(0);
    const id = (name: string) => networkNamed(name)!.meta!.id;
    expect(r.stdout).toBe(
      'NETWORK ID     NAME      DRIVER    SCOPE\n' +
        `${id('back').slice(0, 12)}   back      overlay   swarm\n` +
        `${id('front').slice(0, 12)}   front     overlay   swarm\n` +
        `${id('ingress').slice(0, 12)}   ingress   overlay   swarm\n`,
    );
    expect((await shoal('network', 'ls', '-q', '-f', 'name=ront')).stdout).toBe(`${id('front')}\n`);
    expect((await shoal('network', 'ls', '-q', '-f', 'label=tier', '-f', 'name=back')).stdout).toBe('');
    expect((await shoal('network', 'ls', '-q', '-f', 'name=back', '-f', 'name=front')).stdout).toBe(`${id('back')}\n${id('front')}\n`);
    expect((await shoal('network', 'ls', '--no-trunc', '-f', 'name=back')).stdout).toContain(`${id('back')}   back`);
    const json = JSON.parse((await shoal('network', 'ls', '--format', 'json')).stdout) as { spec: { annotations: { name: string } } }[];
    expect(json.map((n) => n.spec.annotations.name)).toEqual(['back', 'front', 'ingress']);
    const bad = await shoal('network', 'ls', '-f', 'colour=blue');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid filter "colour=blue": the filters are driver, id, label, name/);
  });

  it('inspect prints the networks as JSON with VNI, subnet and gateway, and names what is missing', async () => {
    const r = await shoal('network', 'inspect', 'front', 'nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('shoal: network nope not found\n');
    const [front] = JSON.parse(r.stdout) as { vni: number; subnet: string; gateway: string; spec: { attachable: boolean } }[];
    expect(front).toMatchObject({ subnet: '10.30.0.0/24', gateway: '10.30.0.1', spec: { attachable: true } });
    expect(front!.vni).toBeGreaterThanOrEqual(4096);
  });
});

describe('services on networks with published ports', () => {
  it('create resolves --network names to ids and publishes ports; ls shows the allocated ports', async () => {
    const r = await shoal('service', 'create', '-d', '--name', 'web', '--network', 'front', '--network', 'name=back,alias=www', '-p', '80', '-p', '8443:443', '-p', 'target=22,published=2222,mode=host', 'nginx:1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const web = serviceNamed('web')!;
    expect(web.spec?.task?.networks).toEqual([
      { target: networkNamed('front')!.meta!.id, aliases: [] },
      { target: networkNamed('back')!.meta!.id, aliases: ['www'] },
    ]);
    const ls = await shoal('service', 'ls');
    const [header, row] = ls.stdout.split('\n');
    expect(header).toMatch(/^ID +NAME +MODE +REPLICAS +IMAGE +PORTS$/);
    // Host-mode ports are the tasks', not the service's.
    expect(row).toMatch(/ nginx:1 +\*:8443->443\/tcp, \*:30000->80\/tcp$/);
  });

  it('service ps shows a task\'s host-mode ports', async () => {
    const r = await shoal('service', 'ps', 'web');
    expect(r.stdout.split('\n')[1]).toMatch(/ \*:2222->22\/tcp$/);
  });

  it('inspect --pretty shows networks by name, endpoint mode, ports and virtual IPs', async () => {
    const r = await shoal('service', 'inspect', '--pretty', 'web');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\nNetworks:           front back\nEndpoint Mode:      vip\nPorts:\n PublishedPort:     30000\n  Protocol:         tcp\n  TargetPort:       80\n  PublishMode:      ingress\n');
    expect(r.stdout).toMatch(/\nVirtual IPs:\n ingress: +10\.0\.0\.\d+\/24\n front: +10\.30\.0\.\d+\/24\n back: +10\.0\.\d+\.\d+\/24\n$/);
  });

  it('update adds and removes networks and ports, keeping allocated ports', async () => {
    const r = await shoal('service', 'update', '-d', '--network-rm', 'back', '--publish-rm', '443', '--publish-add', '53:53/udp', '--endpoint-mode', 'vip', 'web');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const web = serviceNamed('web')!;
    expect(web.spec?.task?.networks.map((n) => n.target)).toEqual([networkNamed('front')!.meta!.id]);
    expect((await shoal('service', 'ls', '-q')).code).toBe(0);
    expect((await shoal('service', 'ls')).stdout.split('\n')[1]).toMatch(/ \*:30000->80\/tcp, \*:53->53\/udp$/);

    const again = await shoal('service', 'update', '-d', '--network-add', 'front', 'web');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('shoal: service is already attached to network front\n');
  });

  it('refuses bad flags with exit 2 and an unknown network with exit 1, creating nothing', async () => {
    const bad = await shoal('service', 'create', '-d', '--name', 'x', '-p', '80:80:80', 'nginx');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^shoal service create: invalid value "80:80:80" for --publish: a host address is not supported/);
    const mode = await shoal('service', 'update', '--endpoint-mode', 'round-robin', 'web');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/invalid value "round-robin" for --endpoint-mode: use vip, dnsrr/);
    const missing = await shoal('service', 'create', '-d', '--name', 'x', '--network', 'nowhere', 'nginx');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('shoal: network nowhere not found\n');
    expect(serviceNamed('x')).toBeUndefined();
  });

  it('network rm refuses a network in use, removes the others and exits 1', async () => {
    const r = await shoal('network', 'rm', 'front', 'back');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('back\n');
    expect(r.stderr).toBe('shoal: network front is in use by service web\n');
    expect(networkNamed('back')).toBeUndefined();
    expect((await shoal('service', 'rm', 'web')).code).toBe(0);
    expect((await shoal('network', 'remove', 'front')).stdout).toBe('front\n');
  });
});

describe('stack networks', () => {
  const file = join(dir, 'stack.yml');

  it('deploy creates the networks before the services, attaches them by id and publishes ports', async () => {
    writeFileSync(
      file,
      'services:\n  web:\n    image: web:1\n    ports: ["8080:80"]\n    networks: [front]\n  db:\n    image: db:1\n' +
        'networks:\n  front:\n    ipam:\n      config: [{subnet: 10.40.0.0/24}]\n',
    );
    const r = await shoal('stack', 'deploy', '-c', file, 'shop');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Creating network shop_front\nCreating network shop_default\nCreating service shop_web\nCreating service shop_db\n');
    expect(networkNamed('shop_front')!.subnet).toBe('10.40.0.0/24');
    expect(serviceNamed('shop_web')!.spec?.task?.networks).toEqual([{ target: networkNamed('shop_front')!.meta!.id, aliases: ['web'] }]);
    expect(serviceNamed('shop_db')!.spec?.task?.networks).toEqual([{ target: networkNamed('shop_default')!.meta!.id, aliases: ['db'] }]);

    const again = await shoal('stack', 'deploy', '-c', file, 'shop');
    expect(again.stdout).toBe('Service shop_web is unchanged\nService shop_db is unchanged\n');
  });

  it('deploy refuses an external network that does not exist, before creating anything', async () => {
    writeFileSync(file, 'services:\n  app:\n    image: app:1\n    networks: [corp]\nnetworks:\n  corp:\n    external: true\n');
    const r = await shoal('stack', 'deploy', '-c', file, 'other');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`shoal: network "corp" is declared as external, but could not be found: create it first with 'shoal network create corp'\n`);
    expect(serviceNamed('other_app')).toBeUndefined();
  });

  it('rm removes the services, then the networks the stack created', async () => {
    const r = await shoal('stack', 'rm', 'shop');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Removing service shop_db\nRemoving service shop_web\nRemoving network shop_front\nRemoving network shop_default\n');
    expect(fake.networks.map((n) => n.spec?.annotations?.name)).toEqual(['ingress']);
  });
});
