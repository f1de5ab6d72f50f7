/**
 * Signals by name or number, as Docker accepts a stop signal: `TERM`, `sigterm`, `SIGRTMIN+3` or
 * a number from 1 to 64. Numbers are Linux's; the runtime is handed the number.
 */
import { constants } from 'node:os';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

export function signalNumber(signal: number | string): number | undefined {
  if (typeof signal === 'number' || /^[0-9]+$/.test(signal)) {
    const n = Number(signal);
    return Number.isInteger(n) && n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const name = `SIG${signal.toUpperCase().replace(/^SIG/, '')}`;
  if (name === 'SIGRTMIN') return SIGRTMIN;
  if (name === 'SIGRTMAX') return SIGRTMAX;
  const realtime = /^SIGRT(MIN\+|MAX-)([0-9]+)$/.exec(name);
  if (realtime !== null) {
    const n = realtime[1] === 'MIN+' ? SIGRTMIN + Number(realtime[2]) : SIGRTMAX - Number(realtime[2]);
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
  }
  return (constants.signals as Record<string, number | undefined>)[name];
}
