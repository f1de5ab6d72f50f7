/**
 * Control.SubscribeLogs: the leader subscribes its caller at its log broker (../logbroker); any
 * other manager opens the same call on the leader and relays it, message by message, until either
 * end stops (the CLI cancelling reaches the leader, whose broker cancels the nodes' publications).
 */
import { status, type handleServerStreamingCall, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import { ControlService, type SubscribeLogsMessage, type SubscribeLogsRequest } from '../../../proto/gen/control.js';
import type { Logger } from '../../common/logger.js';
import { FORWARDED_METADATA, type LeaderForwarder, type UnaryMethodDefinition } from '../leader-forwarder.js';
import type { LogBroker, LogSubscriber } from '../logbroker/log-broker.js';
import { ControlError, noLeader, toGrpcStatus } from './control-errors.js';
import type { RaftInfo } from './manager-status.js';

export interface LogsHandlerDeps {
  raft: RaftInfo;
  raftId: string;
  forwarder: LeaderForwarder;
  /** The leader's broker; without one (a control service with no dispatcher) logs are unavailable. */
  logs?: LogBroker;
  logger: Logger;
}

type LogsCall = ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>;

export function subscribeLogsHandler(deps: LogsHandlerDeps): handleServerStreamingCall<SubscribeLogsRequest, SubscribeLogsMessage> {
  const log = deps.logger.child({ component: 'controlapi' });
  const fail = (call: LogsCall, err: unknown): void => {
    const { code, details } = toGrpcStatus(err);
    log.debug({ method: 'subscribeLogs', code, details }, 'control call refused');
    if (!call.cancelled) call.emit('error', { code, details });
  };
  return (call) => {
    const forwarded = call.metadata.get(FORWARDED_METADATA).length > 0;
    if (deps.raft.state() === 'leader') {
      // Elected but not yet serving sessions: as with no leader, the caller tries again.
      if (!deps.logs?.isActive) return fail(call, noLeader());
      try {
        const unsubscribe = deps.logs.subscribe(call.request, subscriberOf(call));
        call.on('cancelled', unsubscribe);
      } catch (err) {
        fail(call, err);
      }
      return;
    }
    if (forwarded) return fail(call, new ControlError(status.UNAVAILABLE, `manager ${deps.raftId} was forwarded a call but is not the leader; try again`));
    deps.forwarder.waitForLeader().then(
      (leader) => relay(call, deps.forwarder, leader.address, fail),
      (err: unknown) => fail(call, err),
    );
  };
}

function subscriberOf(call: LogsCall): LogSubscriber {
  return {
    write: (message) => call.write(message),
    onDrain: (listener) => call.once('drain', listener),
    end: () => call.end(),
    fail: (s) => {
      if (!call.cancelled) call.emit('error', s);
    },
  };
}

function relay(call: LogsCall, forwarder: LeaderForwarder, leader: string, fail: (call: LogsCall, err: unknown) => void): void {
  if (call.cancelled) return;
  const definition = ControlService.subscribeLogs as unknown as UnaryMethodDefinition<SubscribeLogsRequest, SubscribeLogsMessage>;
  const upstream = forwarder.forwardServerStream(leader, definition, call.request);
  upstream.on('data', (message: SubscribeLogsMessage) => {
    // The CLI reads slower than the leader sends: hold the leader back rather than buffer here.
    if (!call.write(message)) upstream.pause();
  });
  call.on('drain', () => upstream.resume());
  upstream.on('end', () => call.end());
  upstream.on('error', (err: ServiceError) => {
    if (err.code !== status.CANCELLED) fail(call, err);
  });
  call.on('cancelled', () => upstream.cancel());
}
