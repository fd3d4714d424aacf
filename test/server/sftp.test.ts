import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFeedSetting } from '../../src/feeds/feeds.service.js';
import { listRuns } from '../../src/runs/runs.service.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';

/**
 * A drop made with the real OpenSSH sftp client against a local sshd, chrooted to the inbox.
 * Needs root and openssh-server (.ci/run installs it); SLUICE_TEST_SFTP=skip leaves it out on a
 * machine without them.
 */
const USER = 'sluicesftp';
const skip = process.env.SLUICE_TEST_SFTP === 'skip';

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

describe.skipIf(skip)('SFTP drop into the folder inbox', () => {
  let chroot: string;
  let keys: string;
  let port: number;
  let sshd: ChildProcess;
  let sshdLog = '';
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/sshd')) {
      throw new Error('the SFTP test needs root and /usr/sbin/sshd (apt-get install openssh-server), or SLUICE_TEST_SFTP=skip');
    }
    try {
      execFileSync('id', [USER], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--no-create-home', '--home-dir', '/', '--shell', '/usr/sbin/nologin', USER]);
    }
    // A new account is locked ("!"), which sshd refuses without PAM; "*" means key login only.
    execFileSync('usermod', ['-p', '*', USER]);
    // sshd insists that every component of the chroot path is root-owned and not writable by others.
    await mkdir('/srv', { recursive: true });
    chroot = await mkdtemp('/srv/sluice-sftp-');
    await chmod(chroot, 0o755);
    await mkdir(join(chroot, 'demo'), { recursive: true });
    const uid = Number(execFileSync('id', ['-u', USER]).toString());
    const gid = Number(execFileSync('id', ['-g', USER]).toString());
    await chown(join(chroot, 'demo'), uid, gid);

    keys = await mkdtemp(join(tmpdir(), 'sluice-sftp-keys-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'host')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'client')]);
    await writeFile(join(keys, 'authorized_keys'), await readFile(join(keys, 'client.pub')));
    // sshd reads authorized_keys as the user logging in.
    await chmod(keys, 0o755);
    await chmod(join(keys, 'authorized_keys'), 0o644);
    port = await freePort();
    await writeFile(
      join(keys, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(keys, 'host')}`,
        `PidFile ${join(keys, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'Subsystem sftp internal-sftp',
        `Match User ${USER}`,
        `  ChrootDirectory ${chroot}`,
        '  ForceCommand internal-sftp',
        '  AllowTcpForwarding no',
        '',
      ].join('\n'),
    );
    await mkdir('/run/sshd', { recursive: true });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(keys, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr!.on('data', (d) => (sshdLog += d));
    for (let i = 0; i < 50 && !existsSync(join(keys, 'sshd.pid')); i++) await sleep(100);

    server = await startTestServer({ SLUICE_INBOX_DIR: chroot, SLUICE_SETTLE_SECONDS: '1' }, { jobs: true, rescanMs: 500 });
    await setFeedSetting(server.ctx.database.knex, 'demo', 'holdFirstRun', 'false');
  });

  afterAll(async () => {
    await server?.stop();
    sshd?.kill();
    if (chroot) await rm(chroot, { recursive: true, force: true });
  });

  it('applies a set uploaded with sftp under temporary names, control file last', async () => {
    const batch = [`lcd ${join(samples, 'basic')}`, 'cd demo'];
    for (const name of ['people.csv', 'groups.csv', 'memberships.csv', 'control.json']) {
      batch.push(`put ${name} ${name}.filepart`, `rename ${name}.filepart ${name}`);
    }
    await writeFile(join(keys, 'batch'), batch.join('\n') + '\n');
    const sftp = () => execFileSync('sftp', [
      '-b', join(keys, 'batch'),
      '-i', join(keys, 'client'),
      '-P', String(port),
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      `${USER}@127.0.0.1`,
    ], { stdio: 'pipe' });
    try {
      sftp();
    } catch (error) {
      const failure = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`sftp failed: ${failure.stdout?.toString()}${failure.stderr?.toString()}\nsshd: ${sshdLog}`);
    }

    const db = server.ctx.database.knex;
    for (let i = 0; i < 300; i++) {
      const [run] = await listRuns(db);
      if (run && ['applied', 'failed', 'held'].includes(run.state)) break;
      await sleep(100);
    }
    const [run] = await listRuns(db);
    expect(run).toMatchObject({ state: 'applied', channel: 'folder', errorCount: 0 });
    expect(await db('directory_users').where({ state: 'active' }).count({ n: '*' })).toEqual([{ n: 150 }]);
  });
});
