/** Unix sockets that daemons own: telling a live owner's socket from one a dead process left behind. */
import { connect } from 'node:net';

/** Whether something accepts connections on the unix socket at `path`. */
export function unixSocketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
