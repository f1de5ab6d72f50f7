/**
 * A throw-away root filesystem for tests: Debian's static busybox and its applets as symlinks, the
 * smallest tree a container can run a shell in. Installs busybox-static if the host lacks it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';

export function makeBusyboxRootfs(root: string): void {
  if (!existsSync(BUSYBOX)) {
    execFileSync('apt-get', ['install', '-y', '-qq', 'busybox-static'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: 'ignore',
    });
  }
  for (const dir of ['bin', 'srv', 'tmp']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  // Run inside the rootfs so the applet links point at /bin/busybox there, not on the host.
  execFileSync('chroot', [root, '/bin/busybox', '--install', '-s', '/bin']);
}
