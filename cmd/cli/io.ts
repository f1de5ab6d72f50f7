/**
 * What a command may touch of the outside world, so that rendering and the progress loop can be
 * driven by tests: output streams, the environment, the wall clock and sleeping.
 */
export interface Output {
  write(text: string): void;
  /** True when the output is a terminal, where progress is redrawn in place. */
  readonly isTTY: boolean;
}

export interface Io {
  readonly out: Output;
  readonly err: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Wall-clock milliseconds since the epoch (task ages are wall-clock timestamps). */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Resolves when the user interrupts (Ctrl-C) a long wait; the watch loop races it against sleeping. */
  interrupted(): Promise<void>;
}

export function processIo(): Io {
  let interrupt: Promise<void> | undefined;
  return {
    out: { write: (t) => void process.stdout.write(t), isTTY: process.stdout.isTTY === true },
    err: { write: (t) => void process.stderr.write(t), isTTY: process.stderr.isTTY === true },
    env: process.env,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    interrupted: () => {
      interrupt ??= new Promise((resolve) => process.once('SIGINT', () => resolve()));
      return interrupt;
    },
  };
}
