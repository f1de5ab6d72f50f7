/**
 * The Control gRPC service of a manager. The leader answers every call from its store; any other
 * manager passes the call on to the leader (reads too, so the CLI always sees the newest state).
 * Before it answers a read, the leader confirms with a quorum that it still leads and waits until
 * its store has applied everything committed by then (Raft's read index): a leader cut off from
 * the others, which a new leader has already replaced, must not answer from its old view. A
 * refusal there passes the read on to the leader, as a refused write is.
 */
import { status, type handleUnaryCall, type ServerUnaryCall } from '@grpc/grpc-js';
import type { ControlServer } from '../../../proto/gen/control.js';
import type { Logger } from '../../common/logger.js';
import type { PeerStatus } from '../../raft/transport/grpc.js';
import { NotLeaderError, type Store } from '../../store/types.js';
import { clusterHandler } from './cluster-handler.js';
import { ControlService } from '../../../proto/gen/control.js';
import { deadlineMs, FORWARDED_METADATA, type LeaderForwarder, type UnaryMethodDefinition } from '../leader-forwarder.js';
import { ControlError, isServiceError, toGrpcStatus } from './control-errors.js';
import type { RaftInfo } from './manager-status.js';
import { joinTokenHandler } from './join-token-handler.js';
import type { LogBroker } from '../logbroker/log-broker.js';
import { subscribeLogsHandler } from './logs-handler.js';
import type { AllocatorAccess } from '../allocator/allocator-access.js';
import { networkHandlers } from './network-handlers.js';
import { nodeHandlers } from './node-handlers.js';
import { serviceHandlers } from './service-handlers.js';
import { taskHandlers } from './task-handlers.js';

export interface ControlServiceDeps {
  store: Store;
  raft: RaftInfo;
  /** This manager's Raft server id (GetCluster's answeredBy, the "self" of reachability). */
  raftId: string;
  /** GrpcTransport.peerStatus(), for the managers' reachability. */
  raftPeerStatus?: () => PeerStatus[];
  forwarder: LeaderForwarder;
  /** The leader's log broker (the dispatcher's), for SubscribeLogs. */
  logs?: LogBroker;
  /** The leader's network allocator; without it, calls that need addresses or ports are refused. */
  allocator?: AllocatorAccess;
  /**
   * Resolves once a quorum has confirmed this manager still leads and its store has applied
   * everything committed before the call (RaftNode.readIndex); rejects with NotLeaderError when it
   * does not lead.
   */
  confirmRead: () => Promise<unknown>;
  logger: Logger;
  /** Wall clock in ms since the epoch; Date.now by default. */
  now?: () => number;
}

/** A call may meet a leader that just failed; a few elections later the caller gets the error. */
const MAX_FORWARD_ATTEMPTS = 3;

type ControlMethods = Omit<typeof ControlService, 'subscribeLogs'>;
/** The unary methods (SubscribeLogs, a stream, is served by logs-handler.ts). */
export type ControlMethod = keyof ControlMethods;
export type RequestOf<M extends ControlMethod> = Parameters<ControlMethods[M]['requestSerialize']>[0];
export type ResponseOf<M extends ControlMethod> = ReturnType<ControlMethods[M]['responseDeserialize']>;

type Handler<M extends ControlMethod> = (request: RequestOf<M>) => Promise<ResponseOf<M>>;

/** The calls that only read the store: answered after `confirmRead`. */
const READS: ReadonlySet<ControlMethod> = new Set<ControlMethod>([
  'getCluster', 'getService', 'listServices', 'getTask', 'listTasks', 'getNode', 'listNodes', 'getNetwork', 'listNetworks', 'getJoinToken',
]);

export function createControlService(deps: ControlServiceDeps): ControlServer {
  const { store } = deps;
  const services = serviceHandlers({ store, now: deps.now ?? Date.now, allocator: deps.allocator });
  const networks = networkHandlers({ store, allocator: deps.allocator });
  const tasks = taskHandlers({ store });
  const nodes = nodeHandlers(deps);
  const cluster = clusterHandler(deps);
  const joinTokens = joinTokenHandler(deps);
  const route = router(deps);
  return {
    getCluster: route('getCluster', cluster.getCluster),
    createService: route('createService', services.createService),
    getService: route('getService', services.getService),
    listServices: route('listServices', services.listServices),
    updateService: route('updateService', services.updateService),
    removeService: route('removeService', services.removeService),
    getTask: route('getTask', tasks.getTask),
    listTasks: route('listTasks', tasks.listTasks),
    getNode: route('getNode', nodes.getNode),
    listNodes: route('listNodes', nodes.listNodes),
    updateNode: route('updateNode', nodes.updateNode),
    removeNode: route('removeNode', nodes.removeNode),
    createNetwork: route('createNetwork', networks.createNetwork),
    getNetwork: route('getNetwork', networks.getNetwork),
    listNetworks: route('listNetworks', networks.listNetworks),
    removeNetwork: route('removeNetwork', networks.removeNetwork),
    getJoinToken: route('getJoinToken', joinTokens.getJoinToken),
    subscribeLogs: subscribeLogsHandler(deps),
  };
}

function router(deps: ControlServiceDeps) {
  const log = deps.logger.child({ component: 'controlapi' });

  /** Answers the call from this manager's store, a read once it is confirmed. */
  async function answer<M extends ControlMethod>(method: M, handler: Handler<M>, request: RequestOf<M>): Promise<ResponseOf<M>> {
    if (READS.has(method)) await deps.confirmRead();
    return handler(request);
  }

  /** Runs the call here if this manager leads, else on the leader. */
  async function serve<M extends ControlMethod>(method: M, handler: Handler<M>, call: ServerUnaryCall<RequestOf<M>, ResponseOf<M>>) {
    const forwarded = call.metadata.get(FORWARDED_METADATA).length > 0;
    if (deps.raft.state() === 'leader') {
      try {
        return await answer(method, handler, call.request);
      } catch (err) {
        // Leadership moved before the change was proposed (NotLeaderError guarantees it was not
        // appended) or before the read was confirmed, so the new leader may carry it out: fall
        // through to forwarding.
        if (!(err instanceof NotLeaderError) || forwarded) throw err;
      }
    }
    if (forwarded) {
      throw new ControlError(status.UNAVAILABLE, `manager ${deps.raftId} was forwarded a call but is not the leader; try again`);
    }
    let leader = await deps.forwarder.waitForLeader();
    for (let attempt = 1; ; attempt++) {
      if (leader.id === deps.raftId) return answer(method, handler, call.request);
      log.debug({ method, leader: leader.id }, 'forwarding to the leader');
      try {
        const definition = ControlService[method] as unknown as UnaryMethodDefinition<RequestOf<M>, ResponseOf<M>>;
        return await deps.forwarder.forward(leader.address, definition, call.request, deadlineMs(call.getDeadline()));
      } catch (err) {
        // UNAVAILABLE means the call was not carried out: the leader could not be reached (it may
        // have just failed) or the manager reached no longer leads. Once Raft names another
        // leader, try that one. Outcome-unknown failures travel with other codes and are not retried.
        if (!isServiceError(err) || err.code !== status.UNAVAILABLE || attempt >= MAX_FORWARD_ATTEMPTS) throw err;
        leader = await deps.forwarder.waitForLeader(leader.id).catch(() => {
          throw err;
        });
      }
    }
  }

  return function route<M extends ControlMethod>(method: M, handler: Handler<M>): handleUnaryCall<RequestOf<M>, ResponseOf<M>> {
    return (call, callback) => {
      serve(method, handler, call).then(
        (response) => callback(null, response),
        (err: unknown) => {
          const { code, details } = toGrpcStatus(err);
          if (code === status.INTERNAL) log.error({ err, method }, 'control call failed');
          else log.debug({ method, code, details }, 'control call refused');
          callback({ code, details });
        },
      );
    };
  };
}
