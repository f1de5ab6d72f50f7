import { describe, expect, it } from 'vitest';
import { NetworkState } from '../../../proto/gen/dispatcher.js';
import { EndpointMode, PortProtocol, PublishMode } from '../../../proto/gen/objects.js';
import { containerVips, discoveryView, ingressPlan, taskName, wantedNetworks } from './state-view.js';

// Two networks with the same subnet (allowed: they are isolated), a global dnsrr service, the ingress network.
const state = NetworkState.fromPartial({
  underlayAddress: '192.168.1.10',
  networks: [
    { network: { meta: { id: 'neta' }, vni: 4100, subnet: '10.0.1.0/24', gateway: '10.0.1.1' }, peers: [{ address: '10.0.1.9/24', underlayAddress: '192.168.1.11' }] },
    { network: { meta: { id: 'netb' }, vni: 4101, subnet: '10.0.1.0/24', gateway: '10.0.1.1' }, nodeAddress: '10.0.1.4/24' },
    { network: { meta: { id: 'ingr' }, spec: { ingress: true }, vni: 4096, subnet: '10.255.0.0/16', gateway: '10.255.0.1' }, nodeAddress: '10.255.0.2/16' },
    // Not usable without an id: skipped.
    { network: { vni: 4102, subnet: '10.0.3.0/24', gateway: '10.0.3.1' } },
  ],
  services: [
    {
      name: 'api',
      mode: EndpointMode.ENDPOINT_MODE_VIP,
      virtualIps: [{ networkId: 'neta', address: '10.0.1.2/24' }, { networkId: 'netb', address: '10.0.1.2/24' }, { networkId: 'ingr', address: '10.255.0.3/16' }],
      ports: [
        { protocol: PortProtocol.PORT_PROTOCOL_UDP, targetPort: 53, publishedPort: 30053, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
        { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 80, publishMode: PublishMode.PUBLISH_MODE_HOST },
      ],
      tasks: [
        { taskId: 't1', slot: 1, addresses: [{ networkId: 'neta', address: '10.0.1.5/24' }, { networkId: 'ingr', address: '10.255.0.5/16' }] },
        { taskId: 't2', slot: 2, addresses: [{ networkId: 'netb', address: '10.0.1.6/24' }] },
      ],
    },
    { name: 'cache', mode: EndpointMode.ENDPOINT_MODE_DNSRR, tasks: [{ taskId: 't3', slot: 0, nodeId: 'node7', addresses: [{ networkId: 'netb', address: '10.0.1.7/24' }] }] },
  ],
});

describe('what a NetworkState means for the node', () => {
  it('lists the networks with a usable id, gateway and peers bare, the node address when it has one', () => {
    expect(wantedNetworks(state).map((n) => [n.config.id, n.ingress, n.nodeAddress, n.peers])).toEqual([
      ['neta', false, undefined, [{ address: '10.0.1.9', underlay: '192.168.1.11' }]],
      ['netb', false, '10.0.1.4', []],
      ['ingr', true, '10.255.0.2', []],
    ]);
  });

  it('names tasks as Docker does: by slot, or by node for a global service', () => {
    expect(taskName({ name: 'api' }, { slot: 2, nodeId: 'n', taskId: 't2' })).toBe('api.2.t2');
    expect(taskName({ name: 'cache' }, { slot: 0, nodeId: 'node7', taskId: 't3' })).toBe('cache.node7.t3');
  });

  it('gives DNS each network’s own services and tasks, and none for ingress', () => {
    const view = discoveryView(state, [{ taskId: 'c1', netns: '/proc/1/ns/net', networks: [{ networkId: 'netb', address: '10.0.1.8/24' }], hostPorts: [] }]);
    expect([...view.networks.keys()]).toEqual(['neta', 'netb']);
    expect(view.networks.get('netb')).toEqual([
      { name: 'api', mode: 'vip', vip: '10.0.1.2/24', aliases: [], tasks: [{ name: 'api.2.t2', address: '10.0.1.6/24' }] },
      { name: 'cache', mode: 'dnsrr', aliases: [], tasks: [{ name: 'cache.node7.t3', address: '10.0.1.7/24' }] },
    ]);
    expect(view.containers).toEqual(new Map([['c1', ['netb']]]));
  });

  it('balances a container’s VIPs over the tasks on the network it shares; the first network has a VIP met twice', () => {
    expect(containerVips(state, ['netb', 'neta', 'ingr'])).toEqual([{ vip: '10.0.1.2', backends: ['10.0.1.6'] }]);
    expect(containerVips(state, ['neta'])).toEqual([{ vip: '10.0.1.2', backends: ['10.0.1.5'] }]);
  });

  it('publishes ingress-mode ports over the tasks’ ingress addresses, and leaves host-mode ones to the local tasks', () => {
    expect(ingressPlan(state)).toEqual({
      networkId: 'ingr',
      nodeAddress: '10.255.0.2',
      ports: [{ protocol: 'udp', published: 30053, target: 53, backends: ['10.255.0.5'] }],
    });
    expect(ingressPlan({ ...state, networks: state.networks.slice(0, 2) })).toBeUndefined();
  });
});
