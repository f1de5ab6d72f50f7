/**
 * Preloaded into the manager process by `bench:schedule --profile-dir DIR` (through NODE_OPTIONS,
 * which does not allow --cpu-prof itself): records a V8 CPU profile from start to exit and writes
 * it to DIR/manager-PID.cpuprofile, for Chrome DevTools or any .cpuprofile viewer.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.SHOAL_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // Posts on an in-thread session complete synchronously, so this runs to the end inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `manager-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
