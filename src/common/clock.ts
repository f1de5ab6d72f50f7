/**
 * Time is injected wherever a test or the simulator must control it. Production code uses
 * `systemClock`; the Raft simulator and unit tests use a virtual clock that only advances when told.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since an arbitrary, fixed origin. Monotonic. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled first. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/** The longest delay setTimeout takes (about 24.8 days); a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    // A certificate renewal is due weeks ahead: longer delays are waited out in steps.
    let timer: NodeJS.Timeout;
    const wait = (left: number): void => {
      timer = setTimeout(left > MAX_TIMEOUT_MS ? () => wait(left - MAX_TIMEOUT_MS) : fn, Math.min(left, MAX_TIMEOUT_MS));
    };
    wait(ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
