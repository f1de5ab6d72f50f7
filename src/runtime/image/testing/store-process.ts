/**
 * Test helper run as its own Node process (built by `npm run build`), so that tests can put a
 * second process on a state directory, hold the store's lock in it, or kill it mid-write:
 *
 *   hold LOCK_DIR OWNER            takes the lock, prints `locked`, releases when stdin ends
 *   turns LOCK_DIR LOG ROUNDS      ROUNDS times: takes the lock, appends `enter PID` and
 *                                  `exit PID` to LOG with I/O between, releases
 *   pull STATE_DIR REFERENCE       pulls into the store as `test pull`, printing each event as JSON
 */
import { appendFile } from 'node:fs/promises';
import { ImageStore } from '../image-store.js';
import { RegistryClient } from '../registry-client.js';
import { StoreLock } from '../store-lock.js';

const [command, ...args] = process.argv.slice(2);
const WAIT_MS = 60_000;

async function hold(dir: string, owner: string): Promise<void> {
  const lock = await StoreLock.acquire(dir, dir, { owner, timeoutMs: WAIT_MS });
  process.stdout.write('locked\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  await lock.release();
}

async function turns(dir: string, log: string, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const lock = await StoreLock.acquire(dir, dir, { owner: 'turns', timeoutMs: WAIT_MS });
    await appendFile(log, `enter ${process.pid}\n`);
    // Give another process every chance to barge in while this one is inside.
    for (let j = 0; j < 5; j++) await new Promise((resolve) => setImmediate(resolve));
    await appendFile(log, `exit ${process.pid}\n`);
    await lock.release();
  }
}

async function pull(stateDir: string, reference: string): Promise<void> {
  const store = new ImageStore(stateDir, { owner: 'test pull', client: new RegistryClient({ retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }) });
  await store.pull(reference, { onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`) });
}

if (command === 'hold' && args.length === 2) await hold(args[0]!, args[1]!);
else if (command === 'turns' && args.length === 3) await turns(args[0]!, args[1]!, Number(args[2]));
else if (command === 'pull' && args.length === 2) await pull(args[0]!, args[1]!);
else throw new Error('usage: store-process hold LOCK_DIR OWNER | turns LOCK_DIR LOG ROUNDS | pull STATE_DIR REFERENCE');
