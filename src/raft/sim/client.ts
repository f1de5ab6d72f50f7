import type { Random } from '../../common/random.js';
import { RaftError } from '../types.js';
import type { SimCluster } from './cluster.js';
import type { History } from './history.js';
import { encodeCommand } from './kv.js';
import type { SafetyCheckers } from './safety-checkers.js';
import type { Scheduler } from './scheduler.js';
import type { SimServer } from './sim-server.js';
import { violation } from './violation.js';

export interface ClientEnv {
  scheduler: Scheduler;
  random: Random;
  cluster: SimCluster;
  history: History;
  checkers: SafetyCheckers;
  keys: readonly string[];
  /** Give up waiting after this long; the outcome is then unknown. */
  timeoutMs: number;
  /** Pause between a reply and the next request. */
  thinkMs: number;
}

type Request = 'put' | 'read-index' | 'get-via-log';

/**
 * A key-value client: one request at a time, to the server it believes leads, following NotLeader
 * hints. Writes carry unique values; reads are linearizable reads (readIndex, then the local state
 * machine) or reads through the log. Every request and its outcome goes into the history.
 */
export class KvClient {
  private leaderGuess: string | undefined;
  private nextValue = 0;
  private stopped = false;
  private inFlight = false;

  constructor(
    private readonly index: number,
    private readonly env: ClientEnv,
  ) {}

  start(): void {
    this.scheduleNext();
  }

  /** Stops issuing requests; the one in flight still completes or times out. */
  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return !this.inFlight;
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const { scheduler, random, thinkMs } = this.env;
    scheduler.after(random.next() * thinkMs, `client ${this.index} request`, () => this.issue());
  }

  private pickTarget(): SimServer | undefined {
    const { cluster, random } = this.env;
    const guessed = this.leaderGuess === undefined ? undefined : cluster.servers.get(this.leaderGuess);
    if (guessed?.isUp) return guessed;
    const running = cluster.running();
    return running.length === 0 ? undefined : running[random.int(0, running.length - 1)];
  }

  private issue(): void {
    if (this.stopped) return;
    const { random, history, scheduler, keys, timeoutMs } = this.env;
    const target = this.pickTarget();
    if (target === undefined) return this.scheduleNext();
    const key = keys[random.int(0, keys.length - 1)];
    const x = random.next();
    const request: Request = x < 0.5 ? 'put' : x < 0.85 ? 'read-index' : 'get-via-log';
    const value = request === 'put' ? `c${this.index}-${this.nextValue++}` : undefined;
    const opId = history.invoke(this.index, key, request === 'put' ? 'put' : 'get', value);
    this.inFlight = true;

    let settled = false;
    const settle = (record: () => void): void => {
      if (settled) return;
      settled = true;
      this.inFlight = false;
      record();
      this.scheduleNext();
    };
    scheduler.after(timeoutMs, `client ${this.index} timeout op ${opId}`, () => settle(() => history.indeterminate(opId)));
    const onError = (err: unknown): void => settle(() => this.failed(opId, target.id, err));

    // The request reaches the server's process only when it runs; a paused server holds it.
    target.timeline.run(`${target.id} client ${this.index} ${request} ${key}`, () => {
      const node = target.node;
      const fsm = target.fsm;
      if (node === undefined || fsm === undefined) return;
      const raftTimeout = timeoutMs * 0.8;
      if (request === 'read-index') {
        node.readIndex(raftTimeout).then(
          () => settle(() => this.succeeded(target.id, () => history.succeeded(opId, fsm.read(key)))),
          onError,
        );
        return;
      }
      const command =
        request === 'put' ? encodeCommand({ op: 'put', key, value: value ?? '' }) : encodeCommand({ op: 'get', key, id: `op${opId}` });
      node.apply(command, raftTimeout).then((result) => {
        settle(() =>
          this.succeeded(target.id, () => {
            if (request === 'get-via-log') return history.succeeded(opId, result.response as string | undefined);
            history.succeeded(opId);
            this.env.checkers.onAcknowledgedWrite(opId, result.index, command);
          }),
        );
      }, onError);
    });
  }

  private succeeded(server: string, record: () => void): void {
    this.leaderGuess = server;
    record();
  }

  private failed(opId: number, server: string, err: unknown): void {
    const { history, checkers } = this.env;
    if (!(err instanceof RaftError)) {
      checkers.guard(() => {
        throw violation('client API', `op ${opId} on ${server} failed with a non-Raft error: ${String(err)}`);
      });
      return history.indeterminate(opId);
    }
    if (err.code === 'NotLeader') {
      history.failed(opId);
      this.leaderGuess = err.leader?.id;
      return;
    }
    history.indeterminate(opId);
    this.leaderGuess = undefined;
  }
}
