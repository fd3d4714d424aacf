import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { addSftpAccount, checkSftpLogin, listSftpAccounts, removeSftpAccount, SFTP_LOGIN_LIMITS } from '../../src/sftp/accounts.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';

/** SFTP logins stored and checked on each database: the migration, the hashes, the shared limits. */
describe.each(testDatabases)('SFTP accounts on $name', (database) => {
  let env: TestEnv;
  let keys: string;
  const db = () => env.ctx.database.knex;

  beforeAll(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'hr', { name: 'HR' });
    keys = await mkdtemp(join(tmpdir(), 'sluice-sftp-keys-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'ed')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', join(keys, 'weak')]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('stores a generated password only as a hash, a key with its fingerprint, and names logins after the feed', async () => {
    const { account, password } = await addSftpAccount(db(), 'hr');
    expect(account).toMatchObject({ username: 'hr', method: 'password', lastLoginAt: null });
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    const row = await db()('sftp_accounts').where({ id: account.id }).first();
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(JSON.stringify(row)).not.toContain(password);
    const keyed = await addSftpAccount(db(), 'hr', { publicKey: await readFile(join(keys, 'ed.pub'), 'utf8') });
    const expected = execFileSync('ssh-keygen', ['-lf', join(keys, 'ed.pub')]).toString().split(' ')[1];
    expect(keyed).toEqual({ account: expect.objectContaining({ username: 'hr-2', method: 'ssh-ed25519', keyFingerprint: expected }), password: undefined });
    await expect(addSftpAccount(db(), 'hr', { publicKey: await readFile(join(keys, 'weak.pub'), 'utf8') })).rejects.toThrow(/1024 bits; at least 2048/);
    await expect(addSftpAccount(db(), 'hr', { username: 'hr' })).rejects.toThrow(/taken/);
    await expect(addSftpAccount(db(), 'hr', { password: 'short' })).rejects.toThrow(/12 characters/);

    expect(await checkSftpLogin(db(), 'HR', '10.0.0.1', { method: 'password', password: password! })).toMatchObject({ ok: true, account: { username: 'hr' } });
    expect((await listSftpAccounts(db())).find((a) => a.username === 'hr')).toMatchObject({ lastLoginAddress: '10.0.0.1', lastLoginAt: expect.any(String) });
  });

  it('counts wrong passwords per login and locks it, right password included, after the limit', async () => {
    await addSftpAccount(db(), 'hr', { username: 'locked', password: 'the-right-password' });
    for (let i = 0; i < SFTP_LOGIN_LIMITS.perAccount; i++) expect(await checkSftpLogin(db(), 'locked', `10.0.1.${i}`, { method: 'password', password: 'wrong' })).toEqual({ ok: false, reason: 'refused' });
    expect(await checkSftpLogin(db(), 'locked', '10.0.2.1', { method: 'password', password: 'the-right-password' })).toEqual({ ok: false, reason: 'too_many_attempts' });
    await removeSftpAccount(db(), 'locked');
    expect(await listSftpAccounts(db())).not.toContainEqual(expect.objectContaining({ username: 'locked' }));
  });
});
