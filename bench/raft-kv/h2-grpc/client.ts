/**
 * A unary-only gRPC client on node:http2, one HTTP/2 connection per instance: the load generator's
 * and the followers' way to the leader. It is the server's counterpart (server.ts) and, like it,
 * skips grpc-js's per-call machinery, so the benchmark's client costs little next to the servers
 * it measures; it works against any gRPC server, etcd included.
 */
import { status } from '@grpc/grpc-js';
import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { GRPC_CONTENT_TYPE, GrpcStatusError, decodeGrpcMessage, frameMessage, unframeMessage } from './frame.js';

export class UnaryGrpcClient {
  private session: ClientHttp2Session | undefined;
  private closed = false;

  constructor(readonly endpoint: string) {}

  /** Calls `path` with one request message; resolves with the response message. */
  call(path: string, request: Uint8Array, timeoutMs: number, extraHeaders: OutgoingHttpHeaders = {}): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new GrpcStatusError(status.CANCELLED, 'client closed'));
        return;
      }
      const stream = this.connection().request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        'content-type': GRPC_CONTENT_TYPE,
        te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        ...extraHeaders,
      });
      let settled = false;
      const finish = (err: Error | undefined, body?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(body!);
      };
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        finish(new GrpcStatusError(status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);

      const chunks: Buffer[] = [];
      let outcome: { code: number; message: string } | undefined;
      const readStatus = (headers: Record<string, unknown>): void => {
        if (headers['grpc-status'] !== undefined) {
          outcome = { code: Number(headers['grpc-status']), message: decodeGrpcMessage(String(headers['grpc-message'] ?? '')) };
        }
      };
      stream.on('response', (headers) => {
        const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
        if (httpStatus !== 200) finish(new GrpcStatusError(status.UNKNOWN, `HTTP status ${httpStatus}`));
        readStatus(headers);
      });
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => finish(new GrpcStatusError(status.UNAVAILABLE, err.message)));
      stream.on('close', () => {
        if (!outcome) return finish(new GrpcStatusError(status.UNAVAILABLE, `stream closed without a status (code ${stream.rstCode})`));
        if (outcome.code !== status.OK) return finish(new GrpcStatusError(outcome.code, outcome.message));
        try {
          finish(undefined, unframeMessage(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
        } catch (err) {
          finish(err as Error);
        }
      });
      stream.end(frameMessage(request));
    });
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }

  /** The open connection, or a new one after the last failed or was closed by the peer. */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(`http://${this.endpoint}`);
    session.on('error', () => {
      // Each stream on it fails with its own error; the next call reconnects.
    });
    session.once('close', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }
}
