import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { runErrors } from '../../src/runs/runs.service.js';
import { migrationSource } from '../../src/storage/migrations/index.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directorySnapshot, directoryUser, groupsOf } from '../helpers/directory.js';
import { importFolder, uploadSet } from '../helpers/uploads.js';

/**
 * Records exactly as the directory holds them are skipped while the files are read (row
 * fingerprints). These sets are larger than one lookup batch (2 000 keys), so a user's two
 * records can fall into different batches.
 */
const USERS = 5000;

interface Person { id: string; first: string; last: string; groups: string; note: string }

const people = (): Person[] =>
  Array.from({ length: USERS }, (_, i) => ({ id: `u${i}`, first: `First${i}`, last: `Last${i}`, groups: `g${i % 7};h${i % 3}`, note: 'n' }));

const csv = (rows: Person[]) =>
  ['id,email,first,last,groups,note', ...rows.map((p) => `${p.id},${p.id}@example.org,${p.first},${p.last},${p.groups},${p.note}`)].join('\n') + '\n';

const control = (extra: Record<string, unknown> = {}) => ({
  version: 1,
  mode: 'full',
  // `note` is not mapped: kept in the raw record, so a change to it alone is a change.
  files: { 'users.csv': { type: 'users' } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', groups: { column: 'groups', split: ';' } } },
  ...extra,
});

describe.each(testDatabases)('unchanged records on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const drop = async (rows: Person[], controlFile: object = control()) =>
    importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': controlFile, 'users.csv': csv(rows) }));

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
  });
  afterEach(async () => env?.close());

  it('counts unchanged records without staging them, and applies exactly the records that differ', async () => {
    const first = await drop(people());
    expect(first).toMatchObject({ state: 'applied', unchangedRows: 0 });

    const next = people();
    next[10]!.last = 'Changed';
    next[20]!.note = 'only the raw record differs';
    next[30]!.groups = 'g9';
    next.splice(40, 1);
    next.push({ id: 'u9000', first: 'New', last: 'Person', groups: 'g1', note: 'n' });
    const second = await drop(next);
    expect(second.state).toBe('applied');
    expect(second.counts).toEqual({
      users: { created: 1, updated: 1, suspended: 1, reactivated: 0, deleted: 0, unchanged: USERS - 2 },
      groups: { created: 1, updated: 0 },
      memberships: { added: 2, removed: 2 },
    });
    // Only u10, u20, u30 and the new user were read past their fingerprint.
    expect(second.unchangedRows).toBe(USERS - 1 - 3);

    expect(await directoryUser(env.ctx, 'u10')).toMatchObject({ last_name: 'Changed', last_seen_in_run: second.id });
    expect(JSON.parse((await directoryUser(env.ctx, 'u20')).source_record)).toMatchObject({ note: 'only the raw record differs' });
    expect(await groupsOf(env.ctx, 'u30')).toEqual(['g9']);
    expect(await directoryUser(env.ctx, 'u40')).toMatchObject({ state: 'suspended', last_seen_in_run: first.id });
    // Skipped users were in the run all the same.
    expect(await directoryUser(env.ctx, 'u4999')).toMatchObject({ state: 'active', last_seen_in_run: second.id });
    const logged = await db()('directory_changes').where({ run_id: second.id, entity: 'user' }).orderBy('entity_key').select('entity_key', 'operation');
    expect(logged).toEqual([
      { entity_key: 'u10', operation: 'update' },
      { entity_key: 'u40', operation: 'suspend' },
      { entity_key: 'u9000', operation: 'create' },
    ]);

    // The suspended user's record, unchanged, brings it back: a fingerprint alone never skips a reactivation.
    const third = await drop(people());
    expect(third.counts.users).toMatchObject({ reactivated: 1, created: 0, suspended: 1 });
    expect(await directoryUser(env.ctx, 'u40')).toMatchObject({ state: 'active', last_seen_in_run: third.id });
  });

  it('rejects both records of a user listed twice, also when the first one was skipped as unchanged', async () => {
    await drop(people());
    const before = await directorySnapshot(env.ctx, 'demo');
    const twice = people();
    twice.push({ ...twice[100]! }); // the same record again, 4 900 lines and two batches later
    twice.push({ ...twice[200]!, first: 'Other' });
    const run = await drop(twice);
    expect(run.state).toBe('applied');
    const errors = (await runErrors(db(), run.id)).map((e) => e.text);
    expect(errors).toEqual([
      `users.csv:102: user "u100" also appears at users.csv:${USERS + 2}; neither row is applied`,
      `users.csv:202: user "u200" also appears at users.csv:${USERS + 3}; neither row is applied`,
      `users.csv:${USERS + 2}: user "u100" also appears at users.csv:102; neither row is applied`,
      `users.csv:${USERS + 3}: user "u200" also appears at users.csv:202; neither row is applied`,
    ]);
    expect(run.counts.users).toEqual({ created: 0, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: USERS - 2 });
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
  });

  it('keeps last_seen_in_run of absent users when the feed keeps them, and moves it for everyone present', async () => {
    await setFeedSetting(db(), 'demo', 'onMissing', 'keep');
    const first = await drop(people());
    const second = await drop(people().slice(0, USERS - 10));
    expect(second.counts.users).toMatchObject({ suspended: 0, unchanged: USERS - 10 });
    const seen = await db()('directory_users as u')
      .join('feeds as f', 'f.id', 'u.feed_id')
      .groupBy('seen')
      .orderBy('seen')
      .select(db().raw('COALESCE(NULLIF(u.last_seen_in_run, 0), f.last_full_run_id) AS seen'))
      .count({ n: '*' });
    expect(seen.map((r: { seen: number; n: number | string }) => [Number(r.seen), Number(r.n)])).toEqual([
      [first.id, 10],
      [second.id, USERS - 10],
    ]);
    // Only the ten absent users were written; the others stay 0, "in the latest full run".
    expect(await db()('directory_users').whereNot('last_seen_in_run', 0).pluck('last_seen_in_run')).toEqual(Array(10).fill(first.id));

    // Back in a later run, they are read past their unchanged fingerprint once, to clear it.
    const third = await drop(people());
    expect(third.counts.users).toMatchObject({ unchanged: USERS, reactivated: 0 });
    expect(third.unchangedRows).toBe(USERS - 10);
    expect(await db()('directory_users').whereNot('last_seen_in_run', 0).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await directoryUser(env.ctx, `u${USERS - 1}`)).toMatchObject({ last_seen_in_run: third.id, stored_last_seen_in_run: 0 });
    expect(await db()('directory_users').where({ state: 'active' }).count({ n: '*' })).toEqual([{ n: USERS }]);
  });

  it('migrates stored last_seen_in_run numbers to the 0-means-latest-full-run form and back, reading the same', async () => {
    await setFeedSetting(db(), 'demo', 'onMissing', 'keep');
    await drop(people());
    await drop(people().slice(0, USERS - 10));
    const seen = async () =>
      (await db()('directory_users as u').join('feeds as f', 'f.id', 'u.feed_id').orderBy('u.user_key').select('u.user_key', db().raw('COALESCE(NULLIF(u.last_seen_in_run, 0), f.last_full_run_id) AS seen'))).map(
        (r: { user_key: string; seen: number }) => `${r.user_key}:${Number(r.seen)}`,
      );
    const before = await seen();
    await db().migrate.down({ migrationSource, name: '20261128P-last-seen-by-exception' });
    const numbers = (await db()('directory_users').orderBy('user_key').select('user_key', 'last_seen_in_run')).map((r: { user_key: string; last_seen_in_run: number }) => `${r.user_key}:${Number(r.last_seen_in_run)}`);
    expect(numbers).toEqual(before);
    await db().migrate.latest({ migrationSource });
    expect(await seen()).toEqual(before);
    expect(await db()('directory_users').whereNot('last_seen_in_run', 0).count({ n: '*' })).toEqual([{ n: 10 }]);
  });

  it('a memberships file changes groups outside the records; the next full run sets them back', async () => {
    await drop(people());
    const withMemberships = control({
      mode: 'delta',
      files: { 'users.csv': { type: 'users', ignoreColumns: ['note'] }, 'memberships.csv': { type: 'memberships' } },
      memberships: { fields: { user: 'ID', group: 'GROUP_ID' } },
    });
    await setFeedSetting(db(), 'demo', 'holdOnMappingChange', 'false');
    const delta = await importFolder(
      env.ctx,
      'demo',
      await uploadSet({ 'control.json': withMemberships, 'users.csv': csv([people()[5]!]), 'memberships.csv': 'ID,GROUP_ID\nu5,extra\n' }),
    );
    expect(delta.state).toBe('applied');
    expect(await groupsOf(env.ctx, 'u5')).toEqual(['extra', 'g5', 'h2']);
    expect(await directoryUser(env.ctx, 'u5')).toMatchObject({ last_seen_in_run: delta.id, stored_last_seen_in_run: delta.id });

    // u5's record is byte for byte what the first run had, but its groups are not.
    const full = await drop(people());
    expect(full.counts.memberships).toEqual({ added: 0, removed: 1 });
    expect(await groupsOf(env.ctx, 'u5')).toEqual(['g5', 'h2']);
    expect(await directoryUser(env.ctx, 'u5')).toMatchObject({ last_seen_in_run: full.id, stored_last_seen_in_run: 0 });
    expect(await directoryUser(env.ctx, 'u6')).toMatchObject({ last_seen_in_run: full.id, stored_last_seen_in_run: 0 });
  });

  it('reads the files again when the directory moved between review and approval', async () => {
    await drop(people());
    await setFeedSetting(db(), 'demo', 'autoApply', 'false');
    const next = people();
    next[1]!.last = 'Reviewed';
    const held = await drop(next);
    expect(held).toMatchObject({ state: 'held', unchangedRows: USERS - 1 });

    // Someone else wrote u7 — a user this run skipped as unchanged — after the review.
    await db()('directory_users').where({ user_key: 'u7' }).update({ last_name: 'Elsewhere', record_hash: 'moved', row_fingerprint: 'moved' });
    await db()('feeds').where({ slug: 'demo' }).increment('directory_version', 1);
    const again = await approveRun(env.ctx, held.id, 'test');
    expect(again.state).toBe('held');
    expect(again.counts.users).toMatchObject({ updated: 2, unchanged: USERS - 2 });
    const applied = await approveRun(env.ctx, held.id, 'test');
    expect(applied.state).toBe('applied');
    expect(await directoryUser(env.ctx, 'u7')).toMatchObject({ last_name: 'Last7' });
    expect(await directoryUser(env.ctx, 'u1')).toMatchObject({ last_name: 'Reviewed' });
  });
});
