/**
 * Stop signals a container may ask for, as docker accepts them: a Linux signal name with or
 * without the SIG prefix in any case (TERM, sigterm, SIGRTMIN+3) or a number from 1 to 64. A fixed
 * list rather than os.constants.signals, so that every manager judges a spec alike whatever it runs on.
 */

const NAMES = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG',
  'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);
/** Linux has 32 real-time signals, SIGRTMIN (34) to SIGRTMAX (64). */
const REALTIME_OFFSETS = 15;
const MAX_SIGNAL_NUMBER = 64;

export function isKnownSignal(signal: string): boolean {
  if (/^[0-9]+$/.test(signal)) {
    const n = Number(signal);
    return n >= 1 && n <= MAX_SIGNAL_NUMBER;
  }
  const name = signal.toUpperCase().replace(/^SIG/, '');
  if (NAMES.has(name)) return true;
  const realtime = /^RT(MIN\+|MAX-)([0-9]+)$/.exec(name);
  if (realtime === null) return false;
  const offset = Number(realtime[2]);
  return offset >= 1 && offset <= REALTIME_OFFSETS;
}
