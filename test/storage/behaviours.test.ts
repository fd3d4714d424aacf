import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookUpUsers } from '../../src/directory/directory.service.js';
import { addFeed, getFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { authenticateApiKey, createApiKey, listApiKeys } from '../../src/keys/keys.service.js';
import { processingMs, renderMetrics } from '../../src/server/metrics.js';
import { applyRun } from '../../src/pipeline/processRun.js';
import { migrationSource } from '../../src/storage/migrations/index.js';
import { runCli } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, uploadSet, usersControl, usersCsv } from '../helpers/uploads.js';

type Row = [string, string, string, string, string?];
const set = (rows: Row[]) => uploadSet({ 'control.json': usersControl(), 'users.csv': usersCsv(rows) });

describe.each(testDatabases)('directory behaviours on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  /** A feed that applies every run (no first-run hold), with `settings` on top. */
  const feed = async (slug: string, settings: Record<string, unknown> = {}) => addFeed(db(), slug, { settings: { holdFirstRun: false, ...settings } });
  const imported = async (slug: string, rows: Row[]) => {
    const run = await importFolder(env.ctx, slug, await set(rows));
    expect(run.state, `run ${run.id} of ${slug}`).toBe('applied');
    return run;
  };
  const users = async (slug: string) => {
    const { id } = await getFeed(db(), slug);
    return (await db()('directory_users').where({ feed_id: id }).orderBy('user_key').select('id', 'user_key', 'email', 'updated_at', 'source_record', 'created_in_run')) as Record<string, unknown>[];
  };
  const changes = async (slug: string, key: string) => {
    const { id } = await getFeed(db(), slug);
    const rows = await db()('directory_changes').where({ feed_id: id, entity: 'user', entity_key: key }).orderBy('seq').select('run_id', 'operation', 'before_values', 'after_values');
    return rows.map((r: Record<string, unknown>) => ({ run: Number(r.run_id), operation: r.operation, before: r.before_values ? JSON.parse(String(r.before_values)) : null, after: r.after_values ? JSON.parse(String(r.after_values)) : null }));
  };

  /** Group codes of one feed's user. */
  const groupsOf = async (slug: string, key: string) => {
    const { id } = await getFeed(db(), slug);
    return (await db()('directory_memberships').where({ feed_id: id, user_key: key }).orderBy('group_code').pluck('group_code')) as string[];
  };

  beforeAll(async () => {
    env = await openTestEnv(database);
  });
  afterAll(async () => env?.close());

  it('finds a user by e-mail in any letter case, as the source stored it', async () => {
    await feed('lookup');
    await imported('lookup', [['u1', 'Ann.Lee@Example.org', 'Ann', 'Lee'], ['u2', 'bob@example.org', 'Bob', 'Ray']]);
    for (const query of ['Ann.Lee@Example.org', 'ann.lee@example.org', 'ANN.LEE@EXAMPLE.ORG', ' ann.lee@example.ORG ']) {
      expect((await lookUpUsers(db(), query)).map((u) => [u.feedSlug, u.key]), query).toEqual([['lookup', 'u1']]);
    }
    expect((await lookUpUsers(db(), 'BOB@example.org')).map((u) => u.key)).toEqual(['u2']);
    // E-mails are stored as NFKC: the fullwidth spelling a source sent finds the same user.
    expect((await lookUpUsers(db(), 'ＢＯＢ＠ｅｘａｍｐｌｅ.ｏｒｇ')).map((u) => u.key)).toEqual(['u2']);
    if (database.name === 'mysql') {
      // A database created with a binary collation compares e-mails case-sensitively too.
      await db().raw('ALTER TABLE directory_users MODIFY email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
      try {
        expect((await lookUpUsers(db(), 'ANN.LEE@EXAMPLE.ORG')).map((u) => u.key)).toEqual(['u1']);
      } finally {
        await db().raw('ALTER TABLE directory_users MODIFY email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
      }
    }
    // The key stays exact: it is the source's identifier, not an address.
    expect(await lookUpUsers(db(), 'U1')).toEqual([]);
    // An index lookup, not a read of the whole directory.
    const probe = `SELECT u.id FROM directory_users u WHERE ${env.ctx.database.dialect.lowerEmail('u')} = lower('ann.lee@example.org')`;
    const plan = async () => JSON.stringify(await db().raw(database.name === 'mysql' ? `EXPLAIN ${probe}` : `EXPLAIN QUERY PLAN ${probe}`));
    expect(await plan()).toContain('directory_users_email_lookup_index');
    // Its migration goes down and up again.
    await db().migrate.down({ migrationSource, name: '20261128Q-index-lower-case-emails' });
    if (database.name === 'sqlite') expect(await plan()).not.toContain('directory_users_email_lookup_index');
    else expect(await db().schema.hasColumn('directory_users', 'email_lookup')).toBe(false);
    await db().migrate.latest({ migrationSource });
    expect(await plan()).toContain('directory_users_email_lookup_index');
  });

  it('onMissing=delete hard-deletes a user absent from a full run; the change log keeps its last values; its memberships go', async () => {
    await feed('deleting', { onMissing: 'delete' });
    await imported('deleting', [['u1', 'a@example.org', 'Ann', 'Lee', 'staff'], ['u2', 'b@example.org', 'Bob', 'Ray', 'staff;lab'], ['u3', 'c@example.org', 'Cy', 'Fox', 'lab']]);
    expect(await groupsOf('deleting', 'u2')).toEqual(['lab', 'staff']);
    const run = await imported('deleting', [['u1', 'a@example.org', 'Ann', 'Lee', 'staff'], ['u3', 'c@example.org', 'Cy', 'Fox', 'lab']]);
    expect(run.counts.users).toMatchObject({ deleted: 1, suspended: 0 });
    expect((await users('deleting')).map((u) => u.user_key)).toEqual(['u1', 'u3']);
    expect(await groupsOf('deleting', 'u2')).toEqual([]);
    expect(await groupsOf('deleting', 'u3')).toEqual(['lab']);
    const log = await changes('deleting', 'u2');
    expect(log.at(-1)).toMatchObject({ run: run.id, operation: 'delete', before: expect.objectContaining({ email: 'b@example.org', firstName: 'Bob', lastName: 'Ray' }) });
  });

  it('forceUpdate writes every record of a run, even unchanged ones', async () => {
    await feed('forced');
    const rows: Row[] = [['u1', 'a@example.org', 'Ann', 'Lee'], ['u2', 'b@example.org', 'Bob', 'Ray']];
    await imported('forced', rows);
    // Mark the stored rows, so a rewrite shows whatever the clock's resolution.
    const { id } = await getFeed(db(), 'forced');
    const mark = async () => db()('directory_users').where({ feed_id: id }).update({ updated_at: '2001-01-01 00:00:00.000', source_record: '{"stale":true}' });
    await mark();
    const plain = await imported('forced', rows);
    expect(plain.counts.users).toMatchObject({ updated: 0, unchanged: 2 });
    for (const u of await users('forced')) expect([u.user_key, String(u.source_record)]).toEqual([u.user_key, '{"stale":true}']);

    await setFeedSetting(db(), 'forced', 'forceUpdate', 'true');
    await imported('forced', rows);
    for (const u of await users('forced')) {
      expect(new Date(String(u.updated_at)).getUTCFullYear(), String(u.user_key)).toBeGreaterThan(2001);
      expect(JSON.parse(String(u.source_record)), String(u.user_key)).toMatchObject({ id: u.user_key, email: u.email });
    }
  });

  it('an e-mail change of a username-keyed user is an update of the same user, not a delete and a create', async () => {
    await feed('renamed');
    const first = await imported('renamed', [['u1', 'old@example.org', 'Ann', 'Lee', 'staff']]);
    const [before] = await users('renamed');
    const run = await imported('renamed', [['u1', 'new@example.org', 'Ann', 'Lee', 'staff']]);
    expect(run.counts.users).toEqual({ created: 0, updated: 1, suspended: 0, reactivated: 0, deleted: 0, unchanged: 0 });
    const [after] = await users('renamed');
    expect([after!.id, after!.email, Number(after!.created_in_run)]).toEqual([before!.id, 'new@example.org', first.id]);
    expect(await groupsOf('renamed', 'u1')).toEqual(['staff']);
    expect((await changes('renamed', 'u1')).map((c) => [c.operation, c.before?.email ?? null, c.after?.email ?? null])).toEqual([
      ['create', null, 'old@example.org'],
      ['update', 'old@example.org', 'new@example.org'],
    ]);
  });

  it('profileEditUrl is stored where applications read it (feeds.profile_edit_url), set, changed and cleared', async () => {
    const column = async (slug: string) => (await db()('feeds').where({ slug }).first('profile_edit_url')).profile_edit_url as string | null;
    await addFeed(db(), 'editable', { settings: { profileEditUrl: 'https://hr.example.org/me' } });
    expect(await column('editable')).toBe('https://hr.example.org/me');
    await setFeedSetting(db(), 'editable', 'profileEditUrl', 'https://people.example.org/profile');
    expect([await column('editable'), (await getFeed(db(), 'editable')).settings.profileEditUrl]).toEqual(['https://people.example.org/profile', 'https://people.example.org/profile']);
    const shown = await runCli(['feed', 'show', 'editable', '--json'], { DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir });
    expect(JSON.parse(shown.stdout).settings.profileEditUrl).toBe('https://people.example.org/profile');
    await setFeedSetting(db(), 'editable', 'profileEditUrl', 'none');
    expect([await column('editable'), (await getFeed(db(), 'editable')).settings.profileEditUrl]).toEqual([null, null]);
    await expect(setFeedSetting(db(), 'editable', 'profileEditUrl', 'javascript:alert(1)')).rejects.toThrow('profileEditUrl must be an http(s) URL or "none"');
  });

  it("an API key's last-used time is set when the key is used, and `key list` shows it", async () => {
    await feed('keyed');
    const { key, apiKey } = await createApiKey(db(), 'keyed', 'nightly export');
    const cli = { DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir };
    const listed = async () => JSON.parse((await runCli(['key', 'list', 'keyed', '--json'], cli)).stdout) as { prefix: string; lastUsedAt: string | null }[];
    expect(await listed()).toEqual([expect.objectContaining({ prefix: apiKey.prefix, lastUsedAt: null })]);
    expect((await runCli(['key', 'list', 'keyed'], cli)).stdout).toContain('last used never');
    // A wrong key with the right prefix is not a use.
    expect(await authenticateApiKey(db(), `${apiKey.prefix}_${'x'.repeat(32)}`)).toBeNull();
    expect((await listApiKeys(db())).find((k) => k.prefix === apiKey.prefix)!.lastUsedAt).toBeNull();

    const before = Date.now();
    expect(await authenticateApiKey(db(), key)).toMatchObject({ prefix: apiKey.prefix });
    const [shown] = await listed();
    expect(Date.parse(shown!.lastUsedAt!)).toBeGreaterThanOrEqual(before - 1_000);
    expect(Date.parse(shown!.lastUsedAt!)).toBeLessThanOrEqual(Date.now() + 1_000);
    expect((await runCli(['key', 'list', 'keyed'], cli)).stdout).toContain(`last used ${shown!.lastUsedAt}`);
  });

  it('rows per second in /metrics counts validating and applying time, not receiving or held time', async () => {
    await addFeed(db(), 'measured');
    const rows: Row[] = Array.from({ length: 200 }, (_, i) => [`u${i}`, `u${i}@example.org`, 'First', 'Last']);
    const held = await importFolder(env.ctx, 'measured', await set(rows));
    expect(held.state).toBe('held');
    // The set arrived and was held an hour ago: those waits are no processing.
    const hourAgo = (at: unknown) => new Date(Date.parse(String(at instanceof Date ? at.toISOString() : String(at).replace(' ', 'T') + 'Z')) - 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
    await db()('runs').where({ id: held.id }).update({ created_at: hourAgo((await db()('runs').where({ id: held.id }).first('created_at')).created_at) });
    for (const e of await db()('run_events').where({ run_id: held.id }).select('id', 'at')) await db()('run_events').where({ id: e.id }).update({ at: hourAgo(e.at) });
    expect((await applyRun(env.ctx, held.id, { from: 'held', actor: 'test' })).state).toBe('applied');

    const events = await db()('run_events').where({ run_id: held.id }).whereNotNull('state').orderBy('id').select('at', 'state');
    const busyMs = processingMs(events);
    expect(busyMs).toBeGreaterThan(0);
    expect(busyMs).toBeLessThan(600_000);
    const rate = Number(/^sluice_last_run_rows_per_second (\d+)$/m.exec(await renderMetrics(env.ctx))![1]);
    expect(rate).toBe(Math.round(200 / Math.max(0.001, busyMs / 1000)));
    // Counting the hour of receiving and waiting would give under one row per ten seconds.
    expect(rate).toBeGreaterThan(200 / 600);
  });
});
