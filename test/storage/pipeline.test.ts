import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun, cancelRun, reapplyRun, revalidateRun } from '../../src/runs/runActions.js';
import { getRun, runErrors, runEvents } from '../../src/runs/runs.service.js';
import { directorySnapshot, directoryUser, groupsOf } from '../helpers/directory.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, samples, uploadSet, usersControl, usersCsv } from '../helpers/uploads.js';

const sample = (name: string) => join(samples, name);

describe.each(testDatabases)('pipeline on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const importSample = (name: string, feed = 'demo') => importFolder(env.ctx, feed, sample(name));
  const applyBasic = async () => {
    const run = await importSample('basic');
    return approveRun(env.ctx, run.id, 'test');
  };

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
  });
  afterEach(async () => env?.close());

  it('holds the first run of a feed, then applies exactly the reviewed values', async () => {
    const run = await importSample('basic');
    expect(run.state).toBe('held');
    expect(run.holdReasons.map((r) => r.rule)).toEqual(['holdFirstRun']);
    expect(run.counts).toEqual({
      users: { created: 150, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: 0 },
      groups: { created: 5, updated: 0 },
      memberships: { added: 295, removed: 0 },
    });
    expect(await db()('directory_users').count({ n: '*' })).toEqual([{ n: 0 }]);

    const applied = await approveRun(env.ctx, run.id, 'test');
    expect(applied.state).toBe('applied');
    const ada = await directoryUser(env.ctx, 'u1000');
    expect(ada).toMatchObject({ email: 'ada.okafor0@example.org', first_name: 'Ada', last_name: 'Okafor', job_title: 'Researcher', country: 'NL', state: 'active' });
    expect(JSON.parse(ada.custom)).toEqual({ department: 'Physics' });
    expect(JSON.parse(ada.locked_fields)).toContain('email');
    expect(JSON.parse(ada.source_record)).toMatchObject({ ID: 'u1000', COUNTRY: 'nl' });
    expect(ada.last_seen_in_run).toBe(run.id);
    // ROLE "" maps to the default; " de" is trimmed and upper-cased.
    expect(await directoryUser(env.ctx, 'u1003')).toMatchObject({ job_title: 'Staff', country: 'JP' });
    expect(await directoryUser(env.ctx, 'u1001')).toMatchObject({ country: 'DE', job_title: 'Engineer' });
    expect(await groupsOf(env.ctx, 'u1000')).toEqual(['lab-a', 'lab-b', 'mentors', 'researchers', 'staff']);
    expect(await db()('directory_groups').where({ code: 'lab-a' }).first('name')).toEqual({ name: 'Laboratory A' });
    expect(await db()('directory_changes').where({ run_id: run.id }).count({ n: '*' })).toEqual([{ n: 150 + 5 + 295 }]);
  });

  it('applies creates, updates, the delete flag and the missing-record policy', async () => {
    await applyBasic();
    const run = await importSample('changes');
    expect(run.state).toBe('applied');
    expect(run.counts).toEqual({
      users: { created: 1, updated: 1, suspended: 2, reactivated: 0, deleted: 1, unchanged: 146 },
      groups: { created: 0, updated: 1 },
      memberships: { added: 5, removed: 3 },
    });
    expect(await directoryUser(env.ctx, 'u1001')).toMatchObject({ last_name: 'Schmidt-Weber', state: 'active' });
    expect(await directoryUser(env.ctx, 'u1003')).toBeUndefined();
    expect(await directoryUser(env.ctx, 'u1010')).toMatchObject({ state: 'suspended' });
    expect(await directoryUser(env.ctx, 'u2000')).toMatchObject({ first_name: 'Zoë', state: 'active' });
    expect(await groupsOf(env.ctx, 'u2000')).toEqual(['lab-a', 'mentors', 'researchers', 'staff']);
    expect(await groupsOf(env.ctx, 'u1004')).toEqual(['lab-b', 'researchers', 'staff']);
    // A suspended user keeps its memberships, so reactivation restores them.
    expect(await groupsOf(env.ctx, 'u1010')).toEqual(['lab-b', 'mentors', 'researchers', 'staff']);

    const log = await db()('directory_changes').where({ run_id: run.id, entity: 'user' }).orderBy('seq');
    const deleted = log.find((c: { operation: string }) => c.operation === 'delete');
    expect(JSON.parse(deleted.before_values)).toMatchObject({ username: 'u1003', email: 'dmitri.okafor3@example.org', state: 'active' });
    const updated = log.find((c: { operation: string }) => c.operation === 'update');
    expect([JSON.parse(updated.before_values), JSON.parse(updated.after_values)]).toEqual([{ lastName: 'Okafor' }, { lastName: 'Schmidt-Weber' }]);
  });

  it('changes nothing the second time the same files arrive', async () => {
    await applyBasic();
    await importSample('changes');
    const before = await directorySnapshot(env.ctx, 'demo');
    const changesBefore = await db()('directory_changes').count({ n: '*' });
    const again = await importSample('changes');
    expect(again.state).toBe('applied');
    expect(again.counts.users).toEqual({ created: 0, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: 148 });
    expect(again.counts.memberships).toEqual({ added: 0, removed: 0 });
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
    expect(await db()('directory_changes').count({ n: '*' })).toEqual(changesBefore);
  });

  it('re-applying an earlier run restores the directory to that run', async () => {
    const first = await applyBasic();
    const afterFirst = await directorySnapshot(env.ctx, 'demo');
    await importSample('changes');
    const reapplied = await reapplyRun(env.ctx, first.id, 'test');
    expect(reapplied).toMatchObject({ state: 'applied', reapplyOf: first.id, forceUpdate: true });
    const restored = await directorySnapshot(env.ctx, 'demo');
    const active = (s: typeof restored) => {
      const keys = new Set(s.users.filter((u) => u.state === 'active').map((u) => u.user_key));
      return { users: s.users.filter((u) => keys.has(u.user_key)), memberships: s.memberships.filter((m) => keys.has(m.user as string)) };
    };
    expect(active(restored)).toEqual(active(afterFirst));
    expect(restored.groups).toEqual(afterFirst.groups);
    // The user created after the restored run is suspended, not active.
    expect(await directoryUser(env.ctx, 'u2000')).toMatchObject({ state: 'suspended' });
  });

  it('holds a mass removal with the numbers, and approving applies the stored change set', async () => {
    await applyBasic();
    const before = await directorySnapshot(env.ctx, 'demo');
    const run = await importSample('mass-removal');
    expect(run.state).toBe('held');
    expect(run.holdReasons).toEqual([
      expect.objectContaining({ rule: 'maxUserRemovalPercent', limit: 10, message: '50 of 150 users (33.3 %) would be suspended or deleted; the limit is 10 %' }),
    ]);
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
    const applied = await approveRun(env.ctx, run.id, 'admin@example.org');
    expect(applied.state).toBe('applied');
    expect(await db()('directory_users').where({ state: 'suspended' }).count({ n: '*' })).toEqual([{ n: 50 }]);
    expect((await runEvents(db(), run.id)).some((e) => e.actor === 'admin@example.org' && /approved/.test(e.message))).toBe(true);
  });

  it('recomputes a held change set when the directory moved before approval', async () => {
    await applyBasic();
    await setFeedSetting(db(), 'demo', 'autoApply', 'false');
    const held = await importSample('changes');
    expect(held.state).toBe('held');
    expect(held.counts.users.updated).toBe(1);
    // Something else changed the directory after the review: the stored change set is stale.
    await db()('directory_users').where({ user_key: 'u1001' }).update({ last_name: 'Schmidt-Weber', record_hash: 'moved' });
    await db()('feeds').where({ slug: 'demo' }).increment('directory_version', 1);
    const afterApprove = await approveRun(env.ctx, held.id, 'test');
    expect(afterApprove.state).toBe('held');
    expect((await runEvents(db(), held.id)).map((e) => e.message).join('\n')).toMatch(/directory changed since/);
    const applied = await approveRun(env.ctx, held.id, 'test');
    expect(applied.state).toBe('applied');
  });

  it('applies delta runs in order, touching only their records; a held delta blocks later ones', async () => {
    await applyBasic();
    const control = usersControl({ mode: 'delta' });
    await setFeedSetting(db(), 'demo', 'holdOnMappingChange', 'false');
    const first = await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': control, 'users.csv': usersCsv([['u1001', 'ben@example.org', 'Ben', 'Okafor', 'staff']]) }));
    expect(first.state).toBe('applied');
    expect(first.counts.users).toMatchObject({ updated: 1, suspended: 0 });
    expect(await groupsOf(env.ctx, 'u1001')).toEqual(['staff']);
    expect(await db()('directory_users').where({ state: 'active' }).count({ n: '*' })).toEqual([{ n: 150 }]);

    await setFeedSetting(db(), 'demo', 'autoApply', 'false');
    const a = await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': control, 'users.csv': usersCsv([['u5000', 'a@example.org', 'A', 'One']]) }));
    expect(a.state).toBe('held');
    await setFeedSetting(db(), 'demo', 'autoApply', 'true');
    const b = await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': control, 'users.csv': usersCsv([['u5000', 'a@example.org', 'A', 'Two']]) }));
    expect(b.state).toBe('queued');
    await approveRun(env.ctx, a.id, 'test');
    await processQueue(env.ctx);
    expect((await getRun(db(), b.id)).state).toBe('applied');
    expect(await directoryUser(env.ctx, 'u5000')).toMatchObject({ last_name: 'Two' });
  });

  it('supersedes older held runs with a newer full snapshot', async () => {
    const first = await importSample('basic');
    expect(first.state).toBe('held');
    const second = await importSample('changes');
    expect((await getRun(db(), first.id)).state).toBe('superseded');
    expect(second.state).toBe('held');
    await expect(approveRun(env.ctx, first.id)).rejects.toThrow(/superseded/);
  });

  it('skips rows with errors, applies the rest, and never suspends a user whose row was rejected', async () => {
    await applyBasic();
    const run = await importSample('invalid/row-level');
    expect(run.state).toBe('applied');
    expect(run.errorCount).toBe(5);
    const errors = await runErrors(db(), run.id);
    expect(errors.map((e) => e.text)).toEqual([
      'memberships.csv:17: user "u9999" is not in the users files of this set',
      'people.csv:7:2: "not-an-email" is not a valid email address',
      'people.csv:8:3: firstName is required but empty',
      'people.csv:9: user "u1008" also appears at people.csv:10; neither row is applied',
      'people.csv:10: user "u1008" also appears at people.csv:9; neither row is applied',
    ]);
    expect(await directoryUser(env.ctx, 'u1005')).toMatchObject({ email: 'farid.okafor5@example.org', state: 'active' });
    expect(await directoryUser(env.ctx, 'u1006')).toMatchObject({ first_name: 'Grace', state: 'active' });
    expect(await directoryUser(env.ctx, 'u1008')).toMatchObject({ state: 'active' });
    expect(await directoryUser(env.ctx, 'u1007')).toMatchObject({ state: 'suspended' });
  });

  it('fails a run with too many row errors, and re-validates it after the limit is raised', async () => {
    await applyBasic();
    await setFeedSetting(db(), 'demo', 'maxErrorRows', '2');
    const failed = await importSample('invalid/row-level');
    expect(failed.state).toBe('failed');
    expect((await runErrors(db(), failed.id))[0]).toMatchObject({ level: 'set', code: 'too_many_errors' });
    await setFeedSetting(db(), 'demo', 'maxErrorRows', '1000');
    const again = await revalidateRun(env.ctx, failed.id, 'test');
    expect(again.state).toBe('applied');
    expect(again.errorCount).toBe(5);
  });

  it('cancels a held run, keeps its files, and refuses actions that no longer apply', async () => {
    const held = await importSample('basic');
    const cancelled = await cancelRun(env.ctx, held.id, { actor: 'test' });
    expect(cancelled.state).toBe('cancelled');
    expect(await db()('run_files').where({ run_id: held.id }).count({ n: '*' })).toEqual([{ n: 4 }]);
    await expect(approveRun(env.ctx, held.id)).rejects.toThrow(/cancelled; apply needs it to be held/);
    await expect(cancelRun(env.ctx, held.id)).rejects.toThrow(/is cancelled/);
    expect(await db()('staging_users').where({ run_id: held.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('leaves memberships the application added itself alone', async () => {
    await applyBasic();
    const user = await directoryUser(env.ctx, 'u1001');
    const group = await db()('directory_groups').where({ code: 'mentors' }).first('id');
    await db()('directory_memberships').insert({ feed_id: user.feed_id, user_id: user.id, group_id: group.id, user_key: 'u1001', group_code: 'mentors', managed: false, created_at: '2026-01-01 00:00:00.000' });
    const run = await importSample('changes');
    expect(run.state).toBe('applied');
    expect(await groupsOf(env.ctx, 'u1001')).toContain('mentors');
  });

  it('identifies users by email case-insensitively when the key is email', async () => {
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
    const control = usersControl({ users: { key: 'email', fields: { email: 'email', firstName: 'first', lastName: 'last' } } });
    const csv = (email: string) => `id,email,first,last,groups\nx,${email},Ada,Lovelace,\n`;
    const ignore = { ...control, files: { 'users.csv': { type: 'users', ignoreColumns: ['id', 'groups'] } } };
    await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': ignore, 'users.csv': csv('Ada@Example.org') }));
    const second = await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': ignore, 'users.csv': csv('ada@example.org') }));
    expect(second.counts.users).toMatchObject({ created: 0, updated: 1 });
    expect(await db()('directory_users').select('user_key', 'email')).toEqual([{ user_key: 'ada@example.org', email: 'ada@example.org' }]);
  });

  it('reads JSON, NDJSON and TSV files in other encodings through the whole pipeline', async () => {
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
    const control = {
      version: 1,
      files: {
        'people.json': { type: 'users' },
        'groups.tsv': { type: 'groups', encoding: 'windows-1252' },
        'links.ndjson': { type: 'memberships' },
      },
      users: { key: 'username', fields: { username: 'id', email: 'mail', firstName: 'first', lastName: 'last', groups: 'teams', 'custom.skills': 'skills' } },
      groups: { fields: { code: 'code', name: 'name' } },
      memberships: { fields: { user: 'user', group: 'group' } },
    };
    const people = [
      { id: 'p1', mail: 'p1@example.org', first: 'Zoë', last: 'Ng', teams: ['red', 'blue'], skills: ['go', 'sql'] },
      { id: 'p2', mail: 'p2@example.org', first: 'Åsa', last: 'Berg', teams: [], skills: null },
    ];
    const run = await importFolder(
      env.ctx,
      'demo',
      await uploadSet({
        'control.json': control,
        'people.json': JSON.stringify(people, null, 2),
        // windows-1252: é is 0xE9, € is 0x80
        'groups.tsv': Buffer.concat([Buffer.from('code\tname\nred\tR'), Buffer.from([0xe9]), Buffer.from('d team\nblue\tBlue '), Buffer.from([0x80, 0x0a])]),
        'links.ndjson': '{"user":"p2","group":"red"}\n\n{"user":"p1","group":"green"}\n',
      }),
    );
    expect(run.state).toBe('applied');
    expect(await directoryUser(env.ctx, 'p1')).toMatchObject({ first_name: 'Zoë' });
    expect(JSON.parse((await directoryUser(env.ctx, 'p1')).custom)).toEqual({ skills: ['go', 'sql'] });
    expect(await groupsOf(env.ctx, 'p1')).toEqual(['blue', 'green', 'red']);
    expect(await groupsOf(env.ctx, 'p2')).toEqual(['red']);
    expect(await db()('directory_groups').orderBy('code').select('code', 'name')).toEqual([
      { code: 'blue', name: 'Blue €' },
      { code: 'green', name: 'green' },
      { code: 'red', name: 'Réd team' },
    ]);
  });

  describe('a run whose processing throws', () => {
    afterEach(() => {
      delete process.env.SLUICE_FAULT;
    });

    it('is tried again, and fails with the error after three attempts, writing nothing', async () => {
      await applyBasic();
      const before = await directorySnapshot(env.ctx, 'demo');
      process.env.SLUICE_FAULT = 'throw:validate:after-staging';
      const run = await importSample('changes');
      expect(run.state).toBe('failed');
      expect((await runErrors(db(), run.id)).map((e) => e.text)).toEqual(['processing failed 3 times; the last error: injected fault at validate:after-staging']);
      expect((await runEvents(db(), run.id)).filter((e) => /trying again/.test(e.message))).toHaveLength(2);

      process.env.SLUICE_FAULT = 'throw:apply:after-user-creates';
      const second = await importSample('changes');
      for (let i = 0; i < 3; i++) await processQueue(env.ctx);
      expect((await getRun(db(), second.id)).state).toBe('failed');
      expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
    });

    it('completes when the error goes away, as after a lost connection', async () => {
      await applyBasic();
      process.env.SLUICE_FAULT = 'throw:apply:after-user-updates';
      const run = await importSample('changes');
      expect(run.state).toBe('applying');
      delete process.env.SLUICE_FAULT;
      await processQueue(env.ctx);
      expect((await getRun(db(), run.id)).state).toBe('applied');
      expect(await directoryUser(env.ctx, 'u1001')).toMatchObject({ last_name: 'Schmidt-Weber' });
    });
  });
});
