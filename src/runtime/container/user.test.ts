/**
 * Docker's --user forms resolved against fixture passwd and group files: first on their text
 * (resolveUserIn), then read from a root directory and from overlay layers (resolveUser).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUserSpec, resolveUser, resolveUserIn, UserLookupError } from './user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'broken line',
  'bad:x:notanumber:1::/:/bin/sh',
  'app:x:1500:1600:App:/home/app:/bin/sh',
  'app:x:1501:1601:a second app, never used::/bin/sh',
  '',
  'alias:x:1500:99:another name for 1500::/bin/sh',
].join('\n');

const group = [
  'root:x:0:',
  'daemon:x:1:app',
  'app:x:1600:',
  'staff:x:50:other,app',
  'wheel:x:10:root',
  'again:x:50:app',
  'broken',
  'users:x:100:someone,app',
].join('\n');

const files = { passwd, group };
const resolve = (user: string): ReturnType<typeof resolveUserIn> => resolveUserIn(parseUserSpec(user), files);

describe('resolveUserIn', () => {
  it("a name: its uid and primary gid from passwd, and the groups listing it as supplementary ones", () => {
    // staff and again are both gid 50: it is given once.
    expect(resolve('app')).toEqual({ uid: 1500, gid: 1600, additionalGids: [1, 50, 100] });
    expect(resolve('root')).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
  });

  it('a uid: the first passwd entry with it, or the bare uid with gid 0 and no groups when there is none', () => {
    expect(resolve('1500')).toEqual({ uid: 1500, gid: 1600, additionalGids: [1, 50, 100] });
    expect(resolve('4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
  });

  it('an explicit group, by name or number, is the gid and there are no supplementary groups', () => {
    expect(resolve('app:staff')).toEqual({ uid: 1500, gid: 50, additionalGids: [] });
    expect(resolve('app:7')).toEqual({ uid: 1500, gid: 7, additionalGids: [] });
    expect(resolve('1500:wheel')).toEqual({ uid: 1500, gid: 10, additionalGids: [] });
    expect(resolve('4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [] });
  });

  it('refuses a name neither file has, in one clear sentence', () => {
    expect(() => resolve('nobody')).toThrow(UserLookupError);
    expect(() => resolve('nobody')).toThrow('unable to find user nobody: no matching entries in passwd file');
    expect(() => resolve('app:nogroup')).toThrow('unable to find group nogroup: no matching entries in group file');
    expect(() => resolveUserIn(parseUserSpec('app'), {})).toThrow('unable to find user app: no matching entries in passwd file');
  });

  it('without files, numbers still work', () => {
    expect(resolveUserIn(parseUserSpec('0'), {})).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(resolveUserIn(parseUserSpec('1000'), { passwd })).toEqual({ uid: 1000, gid: 0, additionalGids: [] });
  });
});

describe('resolveUser', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-user-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const layer = (name: string, etc: Record<string, string>): string => {
    const dir = join(work, name);
    mkdirSync(join(dir, 'etc'), { recursive: true });
    for (const [file, text] of Object.entries(etc)) writeFileSync(join(dir, 'etc', file), text);
    return dir;
  };

  it("reads the root's /etc/passwd and /etc/group; no user is root, looked up the same way", async () => {
    const rootfs = layer('plain', { passwd, group });
    expect(await resolveUser('app', { rootfs })).toEqual({ uid: 1500, gid: 1600, additionalGids: [1, 50, 100] });
    expect(await resolveUser(undefined, { rootfs })).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
    expect(await resolveUser('', { rootfs })).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
    await expect(resolveUser('nobody', { rootfs })).rejects.toThrow('unable to find user nobody: no matching entries in passwd file');
  });

  it('needs no file for uid:gid, and finds none in a root without /etc', async () => {
    const rootfs = join(work, 'empty');
    mkdirSync(rootfs);
    expect(await resolveUser('1000:1000', { rootfs })).toEqual({ uid: 1000, gid: 1000, additionalGids: [] });
    expect(await resolveUser(undefined, { rootfs })).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    await expect(resolveUser('app', { rootfs })).rejects.toThrow(UserLookupError);
  });

  it('reads each file from the topmost overlay layer that has it', async () => {
    const top = layer('top', { passwd: 'app:x:2000:2000::/:/bin/sh\n' });
    const bottom = layer('bottom', { passwd, group });
    const overlay = { lower: [top, bottom], upper: join(work, 'upper'), work: join(work, 'work') };
    expect(await resolveUser('app', { rootfs: join(work, 'merged'), overlay })).toEqual({ uid: 2000, gid: 2000, additionalGids: [1, 50, 100] });
    await expect(resolveUser('daemon', { rootfs: join(work, 'merged'), overlay })).rejects.toThrow('unable to find user daemon');
  });
});
