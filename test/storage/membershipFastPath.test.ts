import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyAppChanges } from '../../src/apps/appChanges.service.js';
import { addFeed, getFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { runErrors, type Run } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directorySnapshot, directoryUser, groupsOf } from '../helpers/directory.js';
import { importFolder, uploadSet } from '../helpers/uploads.js';

/**
 * A set with a memberships file: users whose record and memberships rows are both as the last
 * run left them are skipped while the files are read, and their memberships rows are never
 * staged. More users than one lookup batch (2 000 keys).
 */
const USERS = 3000;

interface Person { id: string; last: string; column: string; groups: string[] }

const people = (): Person[] =>
  Array.from({ length: USERS }, (_, i) => ({ id: `u${i}`, last: `Last${i}`, column: `col${i % 2}`, groups: [`g${i % 7}`, `h${i % 3}`, `k${i % 11}`] }));

const codes = ['extra', 'col0', 'col1', ...[7, 3, 11].flatMap((n, j) => Array.from({ length: n }, (_, i) => `${'ghk'[j]}${i}`))];

const files = (rows: Person[], options: { reverse?: boolean; extraLines?: string[] } = {}) => {
  const memberships = rows.flatMap((p) => p.groups.map((g) => `${p.id},${g}`));
  if (options.reverse) memberships.reverse();
  return {
    'users.csv': ['id,email,first,last,groups', ...rows.map((p) => `${p.id},${p.id}@example.org,First,${p.last},${p.column}`)].join('\n') + '\n',
    'groups.csv': ['code,name', ...codes.map((c) => `${c},Group ${c}`)].join('\n') + '\n',
    'memberships.csv': ['user,group', ...memberships, ...(options.extraLines ?? [])].join('\n') + '\n',
  };
};

const control = (withMemberships = true) => ({
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users' }, 'groups.csv': { type: 'groups' }, ...(withMemberships && { 'memberships.csv': { type: 'memberships' } }) },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', groups: 'groups' } },
  groups: { fields: { code: 'code', name: 'name' } },
  ...(withMemberships && { memberships: { fields: { user: 'user', group: 'group' } } }),
});

describe.each(testDatabases)('memberships files of unchanged users on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const drop = async (rows: Person[], options: Parameters<typeof files>[1] = {}, withMemberships = true) => {
    const set = files(rows, options);
    if (!withMemberships) delete (set as Partial<typeof set>)['memberships.csv'];
    return importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': control(withMemberships), ...set }));
  };
  /** What a held run staged (staging is cleared once a run is applied). */
  const staged = async (run: Run) => ({
    users: (await db()('staging_users').where({ run_id: run.id }).orderBy('user_key').pluck('user_key')) as string[],
    memberships: Number((await db()('staging_memberships').where({ run_id: run.id }).count({ n: '*' }))[0]!.n),
  });
  const approve = async (run: Run) => {
    expect(run.state).toBe('held');
    const applied = await approveRun(env.ctx, run.id, 'test');
    expect(applied.state).toBe('applied');
    return applied;
  };

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
  });
  afterEach(async () => env?.close());

  it('skips users whose record and memberships rows are unchanged, and stages exactly those that changed', async () => {
    const first = await drop(people());
    expect(first.state).toBe('applied');
    expect(first.counts.memberships.added).toBe(USERS * 4);
    // The first import computes the digests too, so the next run can skip.
    expect(await db()('directory_users').whereNull('membership_digest').count({ n: '*' })).toEqual([{ n: 0 }]);
    const before = await directorySnapshot(env.ctx, 'demo');
    await setFeedSetting(db(), 'demo', 'autoApply', 'false');

    // (a) The same set, the memberships rows in another order: nothing staged, nothing changes.
    const same = await drop(people(), { reverse: true });
    expect(same.unchangedRows).toBe(USERS);
    expect(await staged(same)).toEqual({ users: [], memberships: 0 });
    expect(same.counts).toEqual({
      users: { created: 0, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: USERS },
      groups: { created: 0, updated: 0 },
      memberships: { added: 0, removed: 0 },
    });
    await approve(same);
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);

    // (b) A membership removed, one added, a field changed, a users-file group changed.
    const next = people();
    next[10]!.groups = ['g3', 'h1'];
    next[20]!.groups.push('extra');
    next[30]!.last = 'Changed';
    next[50]!.column = 'col1';
    const changed = await drop(next);
    // Each staged user's memberships rows, with its users-file group.
    expect(await staged(changed)).toEqual({ users: ['u10', 'u20', 'u30', 'u50'], memberships: 3 + 5 + 4 + 4 });
    expect(changed.unchangedRows).toBe(USERS - 4);
    expect(changed.counts).toEqual({
      users: { created: 0, updated: 1, suspended: 0, reactivated: 0, deleted: 0, unchanged: USERS - 1 },
      groups: { created: 0, updated: 0 },
      memberships: { added: 2, removed: 2 },
    });
    await approve(changed);
    expect(await groupsOf(env.ctx, 'u10')).toEqual(['col0', 'g3', 'h1']);
    expect(await groupsOf(env.ctx, 'u20')).toEqual(['col0', 'extra', 'g6', 'h2', 'k9']);
    expect(await groupsOf(env.ctx, 'u50')).toEqual(['col1', 'g1', 'h2', 'k6']);
    expect(await directoryUser(env.ctx, 'u30')).toMatchObject({ last_name: 'Changed' });
    expect(await groupsOf(env.ctx, 'u11')).toEqual(['col1', 'g4', 'h2', 'k0']);

    // (c) A user whose memberships rows all vanish loses those memberships, not the users file's.
    next[40]!.groups = [];
    const vanished = await drop(next);
    expect(await staged(vanished)).toEqual({ users: ['u40'], memberships: 1 });
    expect(vanished.counts.memberships).toEqual({ added: 0, removed: 3 });
    await approve(vanished);
    expect(await groupsOf(env.ctx, 'u40')).toEqual(['col0']);

    // Once applied, that set is the reference: sent again, nothing is staged.
    const again = await drop(next, { reverse: true });
    expect(again.unchangedRows).toBe(USERS);
    expect(await staged(again)).toEqual({ users: [], memberships: 0 });
  });

  it('reports a duplicated row, an unknown user and a bad row as before, each once with its line', async () => {
    await drop(people());
    const before = await directorySnapshot(env.ctx, 'demo');
    await setFeedSetting(db(), 'demo', 'autoApply', 'false');
    const lines = USERS * 3 + 1;
    const run = await drop(people(), { extraLines: ['u5,g5', 'ghost,g1', 'u7,'] });
    const errors = (await runErrors(db(), run.id)).map((e) => e.text);
    expect(errors).toEqual([
      `memberships.csv:${lines + 2}: user "ghost" is not in the users files of this set`,
      `memberships.csv:${lines + 3}:2: the group is empty`,
    ]);
    // u5 has a row twice: staged, and the duplicate changes nothing; u7's bad row is not counted.
    expect(await staged(run)).toEqual({ users: ['u5'], memberships: 4 + 1 });
    expect(run.unchangedRows).toBe(USERS - 1);
    expect(run.counts.memberships).toEqual({ added: 0, removed: 0 });
    await approve(run);
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
  });

  it('stages everyone when the memberships file is left out: its memberships go', async () => {
    await drop(people());
    await setFeedSetting(db(), 'demo', 'autoApply', 'false');
    const run = await drop(people(), {}, false);
    expect(run.unchangedRows).toBe(0);
    expect(run.counts.memberships).toEqual({ added: 0, removed: USERS * 3 });
    await approve(run);
    expect(await groupsOf(env.ctx, 'u3')).toEqual(['col1']);
  });

  it('stages a user whose memberships a delta run changed, though its record and rows match the last full run', async () => {
    await drop(people());
    const delta = { ...control(), mode: 'delta' };
    const one = people().slice(5, 6);
    one[0]!.groups.push('extra');
    const changed = await importFolder(env.ctx, 'demo', await uploadSet({ 'control.json': delta, ...files(one) }));
    expect(changed.counts.memberships).toEqual({ added: 1, removed: 0 });
    expect(await directoryUser(env.ctx, 'u5')).toMatchObject({ membership_digest: null });

    const full = await drop(people());
    expect(full.unchangedRows).toBe(USERS - 1);
    expect(full.counts.memberships).toEqual({ added: 0, removed: 1 });
    expect(await groupsOf(env.ctx, 'u5')).toEqual(['col1', 'g5', 'h2', 'k5']);
    expect(await directoryUser(env.ctx, 'u5')).not.toMatchObject({ membership_digest: null });
  });

  it("restores the source's memberships an application removed", async () => {
    await drop(people());
    const app = async (change: object) => applyAppChanges(env.ctx, await getFeed(db(), 'demo'), { changes: [{ op: 'update', key: 'u1', ...change }] }, 'app');
    // The application's own membership in `x`, which the source then sends too (already there: not added).
    expect((await app({ addGroups: ['x'] })).problems).toEqual([]);
    const next = people();
    next[1]!.groups.push('x');
    const sent = await drop(next);
    expect(sent.counts.memberships).toEqual({ added: 0, removed: 0 });
    // The application removes its membership; the source still sends it.
    expect((await app({ removeGroups: ['x'] })).problems).toEqual([]);
    expect(await groupsOf(env.ctx, 'u1')).toEqual(['col1', 'g1', 'h1', 'k1']);
    expect(await directoryUser(env.ctx, 'u1')).toMatchObject({ membership_digest: null });

    const restored = await drop(next);
    expect(restored.unchangedRows).toBe(USERS - 1);
    expect(restored.counts.memberships).toEqual({ added: 1, removed: 0 });
    expect(await groupsOf(env.ctx, 'u1')).toEqual(['col1', 'g1', 'h1', 'k1', 'x']);
  });
});
