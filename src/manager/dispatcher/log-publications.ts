/**
 * The leader's side of a node's PublishLogs call: each request must name the node's live session;
 * its lines go to the log broker, and while the subscriber they are for is slow the call is paused
 * (gRPC's flow control then holds the node back, which stops reading its logs). When the call ends,
 * the broker is told which publications it carried, so one the node did not close is not waited for.
 */
import type * as grpc from '@grpc/grpc-js';
import type { PublishLogsRequest, PublishLogsResponse } from '../../../proto/gen/dispatcher.js';
import type { LogBroker } from '../logbroker/log-broker.js';
import type { NodeCaller } from './caller.js';
import type { NodeSessions } from './node-sessions.js';

export type PublishCall = grpc.ServerReadableStream<PublishLogsRequest, PublishLogsResponse>;

export function servePublication(call: PublishCall, caller: NodeCaller, callback: grpc.sendUnaryData<PublishLogsResponse>, sessions: NodeSessions, broker: LogBroker): void {
  const { nodeId } = caller.identity;
  const carried = new Set<string>();
  let finished = false;
  const finish = (status: Partial<grpc.StatusObject> | null): void => {
    if (finished) return;
    finished = true;
    broker.publicationEnded(nodeId, carried);
    if (status) callback(status);
    else callback(null, {});
  };
  call.on('data', (request: PublishLogsRequest) => {
    if (finished) return;
    const refusal = sessions.checkSession(nodeId, request.sessionId);
    if (refusal) {
      finish(refusal);
      return;
    }
    carried.add(request.subscriptionId);
    if (!broker.publish(nodeId, request, () => call.resume())) call.pause();
  });
  call.on('end', () => finish(null));
  call.on('cancelled', () => finish(null));
  call.on('error', () => finish(null));
}
