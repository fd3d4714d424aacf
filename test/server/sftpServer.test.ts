import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed, getFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { cancelRun } from '../../src/runs/runActions.js';
import { getRun, listRuns, runEvents } from '../../src/runs/runs.service.js';
import { addSftpAccount, SFTP_LOGIN_LIMITS } from '../../src/sftp/accounts.service.js';
import { uploadsDirOf } from '../../src/sftp/sftpServer.js';
import { addAdmin } from '../../src/admins/admins.service.js';
import { AdminClient } from '../helpers/admin.js';
import { runCli, sluice } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { samples, usersControl, usersCsv } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const run = (cmd: string, args: string[]) => promisify(execFile)(cmd, args, { timeout: 15000 });

/**
 * The built-in SFTP endpoint (`SFTP_PORT`), driven by the real OpenSSH clients and by
 * ssh2-sftp-client: logins, a set delivered over SFTP applied once, nothing left by a broken
 * upload, no way out of the feed's inbox, the login limit, and nothing but sftp served.
 */
describe('built-in SFTP endpoint', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let keys: string;
  let port: number;
  let password: string;
  const db = () => server.ctx.database.knex;
  const feedDir = (slug: string) => join(server.ctx.config.inboxDir, slug);

  beforeAll(async () => {
    server = await startTestServer({ SFTP_PORT: '0', SFTP_MAX_CONNECTIONS: '8', SLUICE_MAX_UPLOAD_MB: '1' });
    port = server.sftp!.port;
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
    await addFeed(db(), 'other', { name: 'Other feed' });
    await setFeedSetting(db(), 'other', 'holdFirstRun', 'false');
    keys = await mkdtemp(join(tmpdir(), 'sluice-sftp-client-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'id')]);
    await addSftpAccount(db(), 'demo', { username: 'demo-key', publicKey: await readFile(join(keys, 'id.pub'), 'utf8') });
    ({ password } = (await addSftpAccount(db(), 'demo', { username: 'demo-pw' })) as { password: string });
    await addSftpAccount(db(), 'other', { username: 'other-pw', password: 'other-password-1' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const openssh = (tool: 'sftp' | 'ssh', args: string[]) =>
    run(tool, [
      '-i', join(keys, 'id'),
      ...(tool === 'sftp' ? ['-P'] : ['-p']), String(port),
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
      ...args,
    ]);
  const sftpBatch = async (lines: string[]) => {
    const batch = join(keys, `batch-${Math.random()}`);
    await writeFile(batch, lines.join('\n') + '\n');
    return openssh('sftp', ['-b', batch, 'demo-key@127.0.0.1']);
  };
  const connect = async (username = 'demo-pw', secret = password) => {
    const client = new SftpClient();
    await client.connect({ host: '127.0.0.1', port, username, password: secret, readyTimeout: 10_000 });
    return client;
  };
  const settled = async (feed: string) => {
    const { id } = await getFeed(db(), feed);
    const [latest] = await listRuns(db(), { feedId: id });
    if (latest?.state === 'queued') await processQueue(server.ctx, { feedId: id });
    return (await listRuns(db(), { feedId: id }))[0];
  };
  const noLeftovers = () => until('partial uploads to be removed', async () => (await readdir(uploadsDirOf(server.ctx.config.inboxDir))).length === 0);

  it('applies a set uploaded with OpenSSH sftp (key login), once, as a run of the sftp channel naming the account', async () => {
    await sftpBatch([`lcd ${join(samples, 'basic')}`, 'put people.csv', 'put groups.csv', 'put memberships.csv', 'ls', 'put control.json']);
    const applied = await until('the run to be applied', async () => {
      const latest = await settled('demo');
      return latest && ['applied', 'failed', 'held'].includes(latest.state) && latest;
    });
    expect(applied).toMatchObject({ state: 'applied', channel: 'sftp', errorCount: 0 });
    expect(await listRuns(db())).toHaveLength(1);
    expect(await db()('directory_users').where({ state: 'active' }).count({ n: '*' })).toEqual([{ n: 150 }]);
    const events = await runEvents(db(), applied.id);
    expect(events.filter((e) => e.actor === 'sftp:demo-key').map((e) => e.message)).toHaveLength(4);
    expect(events.map((e) => e.message).join('\n')).toContain('received control.json over SFTP (account demo-key');
    expect(await readdir(feedDir('demo'))).toEqual([]);
  });

  it('takes a password login (ssh2-sftp-client); a file under a temporary name waits in the inbox until renamed', async () => {
    const client = await connect();
    try {
      for (const name of ['people.csv', 'groups.csv', 'memberships.csv', 'control.json']) {
        await client.fastPut(join(samples, 'basic', name), `/${name}.filepart`);
        expect((await client.list('/')).map((f) => f.name)).toEqual([`${name}.filepart`]);
        await client.rename(`/${name}.filepart`, `/${name}`);
      }
      expect(await client.list('/')).toEqual([]);
    } finally {
      await client.end();
    }
    const latest = await until('the second run to be applied', async () => {
      const r = await settled('demo');
      return r && r.id !== 1 && ['applied', 'failed', 'held'].includes(r.state) && r;
    });
    expect(latest, JSON.stringify(latest)).toMatchObject({ state: 'applied', channel: 'sftp', errorCount: 0 });
    expect((await runEvents(db(), latest.id)).filter((e) => e.actor === 'sftp:demo-pw')).toHaveLength(4);
  });

  it('leaves no file and no run when the connection breaks mid-upload', async () => {
    const before = (await listRuns(db())).length;
    const conn = new Client();
    await new Promise<void>((resolve, reject) => conn.on('ready', resolve).on('error', reject).connect({ host: '127.0.0.1', port, username: 'demo-pw', password }));
    const sftp = await new Promise<import('ssh2').SFTPWrapper>((resolve, reject) => conn.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('/people.csv', 'w', (e, h) => (e ? reject(e) : resolve(h))));
    await new Promise<void>((resolve, reject) => sftp.write(handle, Buffer.alloc(256 * 1024, 'a'), 0, 256 * 1024, 0, (e) => (e ? reject(e) : resolve())));
    expect(await readdir(uploadsDirOf(server.ctx.config.inboxDir))).toHaveLength(1);
    conn.end(); // the upload is never closed
    await noLeftovers();
    expect(await readdir(feedDir('demo'))).toEqual([]);
    expect(await listRuns(db())).toHaveLength(before);
  });

  it('refuses an upload over the size limit, keeping nothing', async () => {
    const before = (await listRuns(db())).length;
    const client = await connect();
    try {
      await expect(client.put(Buffer.alloc(1024 * 1024 + 1, 'x'), '/big.csv')).rejects.toThrow(/upload limit of 1 MB/);
    } finally {
      await client.end();
    }
    await noLeftovers();
    expect(await readdir(feedDir('demo'))).toEqual([]);
    expect(await listRuns(db())).toHaveLength(before);
  });

  it('refuses "..", absolute paths, links and another feed’s files', async () => {
    await mkdir(feedDir('other'), { recursive: true });
    // Temporary names: the folder channel, which watches these folders too, leaves them alone.
    await writeFile(join(feedDir('other'), 'secret.csv.part'), 'id\n1\n');
    await symlink(join(feedDir('other'), 'secret.csv.part'), join(feedDir('demo'), 'link.filepart'));
    await symlink('/etc/passwd', join(feedDir('demo'), 'passwd.filepart'));
    const client = await connect();
    try {
      await expect(client.put(Buffer.from('x'), '../other/x.csv')).rejects.toThrow(/\.\./);
      await expect(client.put(Buffer.from('x'), '/../other/x.csv')).rejects.toThrow(/\.\./);
      await expect(client.put(Buffer.from('x'), '/etc/x.csv')).rejects.toThrow(/no folders/);
      await expect(client.list('../other')).rejects.toThrow();
      await expect(client.list('/etc')).rejects.toThrow();
      await expect(client.delete('../other/secret.csv.part')).rejects.toThrow();
      await expect(client.get('../other/secret.csv.part')).rejects.toThrow();
      await expect(client.rename('../other/secret.csv.part', 'mine.csv')).rejects.toThrow();
      // Links placed in the folder are neither read, followed, renamed into the set nor listed.
      await expect(client.stat('/link.filepart')).rejects.toThrow();
      await expect(client.get('/link.filepart')).rejects.toThrow();
      await expect(client.rename('/passwd.filepart', '/passwd.csv')).rejects.toThrow();
      await expect(client.delete('/link.filepart')).rejects.toThrow();
      const raw = (client as unknown as { sftp: import('ssh2').SFTPWrapper }).sftp;
      await expect(new Promise<void>((resolve, reject) => raw.symlink('/etc/passwd', '/new.csv', (e) => (e ? reject(e) : resolve())))).rejects.toThrow(/links/);
      expect(await client.list('/')).toEqual([]);
    } finally {
      await client.end();
    }
    // The other feed's account sees its own inbox only, and the same rules.
    const other = await connect('other-pw', 'other-password-1');
    try {
      expect((await other.list('/')).map((f) => f.name)).toEqual(['secret.csv.part']);
      await expect(other.list('../demo')).rejects.toThrow();
    } finally {
      await other.end();
    }
    await expect(sftpBatch(['get ../other/secret.csv.part /dev/null'])).rejects.toThrow();
    await expect(sftpBatch(['cd ..'])).rejects.toThrow();
    expect(await readFile(join(feedDir('other'), 'secret.csv.part'), 'utf8')).toBe('id\n1\n');
    expect(await listRuns(db(), { feedId: (await getFeed(db(), 'other')).id })).toHaveLength(0);
  });

  it('refuses a wrong password and locks the account after the configured failures', async () => {
    await addSftpAccount(db(), 'demo', { username: 'guessed', password: 'the-right-password' });
    for (let i = 0; i < SFTP_LOGIN_LIMITS.perAccount; i++) await expect(connect('guessed', `wrong-${i}`)).rejects.toThrow(/authentication/i);
    await expect(connect('guessed', 'the-right-password')).rejects.toThrow(/authentication/i);
    // The limit is per account: other accounts still log in.
    await (await connect()).end();
  });

  it('lets one account open more connections at once than the failure limit (right passwords never spend it)', async () => {
    const clients = await Promise.all(Array.from({ length: SFTP_LOGIN_LIMITS.perAccount + 1 }, () => connect()));
    await Promise.all(clients.map((c) => c.end()));
  });

  it('serves nothing but sftp: no commands, shells or port forwarding', async () => {
    await expect(openssh('ssh', ['demo-key@127.0.0.1', 'id'])).rejects.toThrow();
    await expect(openssh('ssh', ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', '0:127.0.0.1:22', 'demo-key@127.0.0.1'])).rejects.toThrow();
    const conn = new Client();
    await new Promise<void>((resolve, reject) => conn.on('ready', resolve).on('error', reject).connect({ host: '127.0.0.1', port, username: 'demo-pw', password }));
    try {
      await expect(new Promise((resolve, reject) => conn.exec('id', (e, s) => (e ? reject(e) : resolve(s))))).rejects.toThrow();
      await expect(new Promise((resolve, reject) => conn.shell((e, s) => (e ? reject(e) : resolve(s))))).rejects.toThrow();
      await expect(new Promise((resolve, reject) => conn.subsystem('netconf', (e, s) => (e ? reject(e) : resolve(s))))).rejects.toThrow();
      await expect(new Promise((resolve, reject) => conn.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (e, s) => (e ? reject(e) : resolve(s))))).rejects.toThrow();
      await expect(new Promise((resolve, reject) => conn.forwardIn('127.0.0.1', 0, (e, p) => (e ? reject(e) : resolve(p))))).rejects.toThrow();
    } finally {
      conn.end();
    }
  });

  it('sluice sftp add | list | info | remove manage the logins the server takes (compiled CLI)', async () => {
    const env = { SLUICE_DATA_DIR: server.dataDir, SFTP_PORT: String(port) };
    const added = await runCli(['sftp', 'add', 'demo', '--password-stdin', '--name', 'from-cli', '--json'], env, 'a-password-from-stdin\n');
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ username: 'from-cli', method: 'password' });
    await (await connect('from-cli', 'a-password-from-stdin')).end();
    const keyed = await runCli(['sftp', 'add', 'demo', '--public-key', join(keys, 'id.pub')], env);
    expect(keyed.stdout).toMatch(/added SFTP account demo\S* \(ssh-ed25519 SHA256:/);
    const listed = await runCli(['sftp', 'list', 'demo'], env);
    expect(listed.stdout).toMatch(/from-cli {2}password {2}created .* last login .* from 127\.0\.0\.1/);
    const info = await runCli(['sftp', 'info', '--json'], env);
    expect(JSON.parse(info.stdout)).toEqual({ port, hostKeyFingerprint: server.sftp!.fingerprint });
    // The fingerprint is the one OpenSSH shows for the key kept in the data folder.
    expect(execFileSync('ssh-keygen', ['-lf', join(server.dataDir, 'sftp_host_ed25519_key.pub')]).toString()).toContain(server.sftp!.fingerprint);
    expect((await runCli(['sftp', 'remove', 'from-cli'], env)).code).toBe(0);
    await expect(connect('from-cli', 'a-password-from-stdin')).rejects.toThrow(/authentication/i);
    const weak = await runCli(['sftp', 'add', 'demo', '--public-key', join(keys, 'id')], env);
    expect(weak).toMatchObject({ code: 2, stderr: expect.stringMatching(/private key/) });
  });

  it("the feed page shows the host key and the logins; an operator adds one (password shown once) and removes it", async () => {
    await addAdmin(db(), { email: 'op@example.com', role: 'operator', password: 'operator-password-1', actor: 'test' });
    const browser = new AdminClient(server.url);
    await browser.signIn('op@example.com', 'operator-password-1');
    const page = await browser.get('/admin/feeds/demo/settings');
    expect(page.text).toContain(server.sftp!.fingerprint);
    expect(page.text).toMatch(/demo-key<\/td><td>ssh-ed25519 <span class="mono">SHA256:/);
    const added = await browser.post('/admin/feeds/demo/sftp', { username: 'from-page' });
    expect(added.status).toBe(201);
    const shown = /class="secret mono">([^<]+)</.exec(added.text)![1]!;
    await (await connect('from-page', shown)).end();
    expect((await browser.get('/admin/feeds/demo/settings')).text).not.toContain(shown);
    const id = (await db()('sftp_accounts').where({ username: 'from-page' }).first('id')).id;
    expect((await browser.post(`/admin/feeds/demo/sftp/${id}/remove`)).status).toBe(302);
    await expect(connect('from-page', shown)).rejects.toThrow(/authentication/i);
    // The run page names the channel and the login that delivered each file.
    const [first] = (await listRuns(db(), { feedId: (await getFeed(db(), 'demo')).id })).slice(-1);
    const runPage = (await browser.get(`/admin/runs/${first!.id}`)).text;
    expect(runPage).toContain('<dt>Channel</dt><dd>sftp');
    expect(runPage).toMatch(/received control\.json over SFTP \(account demo-key, from 127\.0\.0\.1\) <span class="muted">\(sftp:demo-key\)/);
  });

  it('shows the bytes of a file still being uploaded on the set it will join, and drops them when the upload breaks', async () => {
    const client = await connect();
    await client.put(Buffer.from(JSON.stringify(usersControl())), '/control.json');
    await client.end();
    const open = await until('the set to wait for people.csv', async () => (await listRuns(db(), { feedId: (await getFeed(db(), 'demo')).id, states: ['receiving'] }))[0]);
    const conn = new Client();
    await new Promise<void>((resolve, reject) => conn.on('ready', resolve).on('error', reject).connect({ host: '127.0.0.1', port, username: 'demo-pw', password }));
    const sftp = await new Promise<import('ssh2').SFTPWrapper>((resolve, reject) => conn.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('/people.csv', 'w', (e, h) => (e ? reject(e) : resolve(h))));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => sftp.write(handle, chunk, 0, chunk.length, i * chunk.length, (e) => (e ? reject(e) : resolve())));
      const received = await until(`the set to show ${(i + 1) * chunk.length} bytes of people.csv`, async () => {
        const r = (await getRun(db(), open.id)).progress?.received;
        return r?.incoming[0] && r.incoming[0].bytes === (i + 1) * chunk.length && r;
      });
      // SFTP declares no size: how many bytes the set will hold is not known.
      expect(received).toMatchObject({ files: 1, filesTotal: 2, bytesTotal: null, incoming: [{ name: 'people.csv', size: null }] });
    }
    conn.end();
    await until('the broken upload to leave the progress', async () => (await getRun(db(), open.id)).progress?.received?.incoming.length === 0);
    await cancelRun(server.ctx, open.id, { actor: 'test' });
  });

  it('serve --sftp-port (what npm start passes) turns SFTP on unless SFTP_PORT says otherwise, with a key made on first start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-serve-sftp-'));
    const start = async (env: Record<string, string>) => {
      const { child, done } = sluice(['serve', '--sftp-port', '0'], { SLUICE_DATA_DIR: dataDir, PORT: '0', SLUICE_JOBS: 'off', ...env });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      await until('serve to start', async () => out.includes('Upload API'));
      child.kill('SIGTERM');
      await done;
      return out;
    };
    const first = /SFTP on port \d+, host key (SHA256:\S+)/.exec(await start({}))?.[1];
    expect(first).toBeDefined();
    expect(await start({})).toContain(`host key ${first}`); // the same key after a restart
    expect(await start({ SFTP_PORT: 'off' })).not.toContain('SFTP on port');
  });
});
