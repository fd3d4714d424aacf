import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { validateFolder } from '../../src/pipeline/validateFolder.js';
import { approveRun } from '../../src/runs/runActions.js';
import { runErrors } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directoryUser } from '../helpers/directory.js';
import { importFolder, uploadSet, usersControl } from '../helpers/uploads.js';

/** "Trust in the directory": a record Sluice cannot read never makes its user missing. */
const USERS = 50;
const ids = (n = USERS) => Array.from({ length: n }, (_, i) => `u${i}`);
const line = (id: string) => `${id},${id}@corp.example,Given${id.slice(1)},Family`;
const csv = (lines: string[]) => ['id,email,first,last', ...lines].join('\n') + '\n';
const control = (extra: Record<string, unknown> = {}) => usersControl({ users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last' } }, ...extra });
const ndjsonControl = () => control({ files: { 'users.ndjson': { type: 'users' } } });
const json = (id: string) => JSON.stringify({ id, email: `${id}@corp.example`, first: `Given${id.slice(1)}`, last: 'Family' });

describe.each(testDatabases)('rejected records on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const drop = async (files: Record<string, string | object>) => importFolder(env.ctx, 'demo', await uploadSet(files));
  const activeUsers = async () => Number(((await db()('directory_users').where({ state: 'active' }).count({ n: '*' })) as { n: number | string }[])[0]!.n);

  beforeEach(async () => {
    env = await openTestEnv(database, { SLUICE_MAX_FIELD_KB: '1' });
    await addFeed(db(), 'demo');
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
  });
  afterEach(async () => env?.close());

  it('a CSV row with a field too many, or a field over the size limit, is reported and its user stays active', async () => {
    const first = await drop({ 'control.json': control(), 'users.csv': csv(ids().map(line)) });
    expect(first.state).toBe('applied');

    const lines = ids().map(line);
    lines[7] = 'u7,u7@corp.example,Given7,Family, Seven';
    lines[9] = `u9,u9@corp.example,Given9,"${'x'.repeat(2000)}"`;
    const second = await drop({ 'control.json': control(), 'users.csv': csv(lines) });
    expect(second.state).toBe('applied');
    expect(second.counts.users).toMatchObject({ suspended: 0, deleted: 0, updated: 0 });
    expect((await runErrors(db(), second.id)).map((e) => e.text)).toEqual([
      'users.csv:9:5: has 5 fields but the header has 4; check for an unquoted "," or a missing value',
      'users.csv:11:4: last is longer than 1 KB (SLUICE_MAX_FIELD_KB)',
    ]);
    expect(await directoryUser(env.ctx, 'u7')).toMatchObject({ state: 'active', last_name: 'Family' });
    expect(await directoryUser(env.ctx, 'u9')).toMatchObject({ state: 'active', last_name: 'Family' });
    expect(await activeUsers()).toBe(USERS);
  });

  it('a JSON line that is not valid, or not an object, keeps the user it names; one with no readable key holds the run', async () => {
    const lines = ids().map(json);
    await drop({ 'control.json': ndjsonControl(), 'users.ndjson': lines.join('\n') + '\n' });

    const broken = [...lines];
    broken[3] = '{"id": "u3", "email": "u3@corp.example", "first": }';
    const kept = await drop({ 'control.json': ndjsonControl(), 'users.ndjson': broken.join('\n') + '\n' });
    expect(kept.state).toBe('applied');
    expect(kept.counts.users.suspended).toBe(0);
    expect((await runErrors(db(), kept.id)).map((e) => `${e.file}:${e.line} ${e.code}`)).toEqual(['users.ndjson:4 json_malformed']);

    // u5 left the source, and a line names nobody: the run cannot prove u5 is missing.
    const unreadable = lines.filter((_, i) => i !== 5);
    unreadable.push('["u5", "u5@corp.example"]');
    const held = await drop({ 'control.json': ndjsonControl(), 'users.ndjson': unreadable.join('\n') + '\n' });
    expect(held.state).toBe('held');
    expect(held.holdReasons.map((r) => r.rule)).toEqual(['unreadableKeys']);
    expect(held.holdReasons[0]!.message).toMatch(/^1 rejected users record\(s\) have no readable key, so it cannot be proven that the 1 user\(s\) the files do not name are missing/);
    expect(await directoryUser(env.ctx, 'u5')).toMatchObject({ state: 'active' });

    // Nobody absent: nothing to prove, the run applies.
    const allThere = [...lines, '42'];
    expect((await drop({ 'control.json': ndjsonControl(), 'users.ndjson': allThere.join('\n') + '\n' })).state).toBe('applied');
  });

  it('a row that fails its checks keeps its user; one whose key is empty holds a run that would suspend someone', async () => {
    await drop({ 'control.json': control(), 'users.csv': csv(ids().map(line)) });
    const lines = ids().map(line);
    lines[4] = 'u4,not-an-email,Given4,Family';
    lines[6] = ',u6@corp.example,Given6,Family';
    const held = await drop({ 'control.json': control(), 'users.csv': csv(lines.filter((_, i) => i !== 8)) });
    expect(held.state).toBe('held');
    expect(held.holdReasons.map((r) => r.rule)).toEqual(['unreadableKeys']);
    // u4 is present though rejected; u6 (its row names nobody) and u8 would go, but that is not proven.
    expect(held.holdReasons[0]!.message).toMatch(/^1 rejected users record\(s\) have no readable key, so it cannot be proven that the 2 user\(s\)/);
    const suspended = await db()('run_changes').where({ run_id: held.id, op: 'suspend' }).orderBy('entity_key').pluck('entity_key');
    expect(suspended).toEqual(['u6', 'u8']);
    for (const id of ['u4', 'u6', 'u8']) expect(await directoryUser(env.ctx, id)).toMatchObject({ state: 'active' });
  });

  it('keeps JSON numbers used as keys as written', async () => {
    const records = ['{"id": 12345678901234567891, "email": "a@corp.example", "first": "A", "last": "B"}', '{"id": 1e400, "email": "b@corp.example", "first": "C", "last": 1.50}'];
    const run = await drop({ 'control.json': ndjsonControl(), 'users.ndjson': records.join('\n') });
    expect(run.state).toBe('applied');
    expect(await directoryUser(env.ctx, '12345678901234567891')).toMatchObject({ state: 'active' });
    expect(await directoryUser(env.ctx, '1e400')).toMatchObject({ last_name: '1.50' });
    expect(await db()('directory_users').where({ user_key: 'Infinity' }).first()).toBeUndefined();
  });

  it('protects a small feed: an empty full users file and removing most users are held whatever the size', async () => {
    const small = ids(90);
    await drop({ 'control.json': control(), 'users.csv': csv(small.map(line)) });

    const empty = await drop({ 'control.json': control(), 'users.csv': csv([]) });
    expect(empty.state).toBe('held');
    expect(empty.holdReasons.map((r) => r.rule)).toEqual(['mostUsersRemoved', 'emptyUsersFile']);
    expect(empty.holdReasons[1]!.message).toContain('"emptyOnPurpose": true');
    expect(await activeUsers()).toBe(90);

    // The control file may say the source is empty on purpose; removing most users still needs an administrator.
    const onPurpose = await drop({ 'control.json': control({ emptyOnPurpose: true }), 'users.csv': csv([]) });
    expect(onPurpose.holdReasons.map((r) => r.rule)).toEqual(['mostUsersRemoved']);
    expect(onPurpose.holdReasons[0]!.message).toBe("90 of the feed's 90 active users would be suspended or deleted: more than half, whatever the feed's size");
    expect((await approveRun(env.ctx, onPurpose.id)).state).toBe('applied');
    expect(await activeUsers()).toBe(0);

    await drop({ 'control.json': control(), 'users.csv': csv(small.map(line)) });
    const half = await drop({ 'control.json': control(), 'users.csv': csv(small.slice(45).map(line)) });
    expect(half.state).toBe('applied');
    await drop({ 'control.json': control(), 'users.csv': csv(small.map(line)) });
    const most = await drop({ 'control.json': control(), 'users.csv': csv(small.slice(46).map(line)) });
    expect(most.state).toBe('held');
    expect(most.holdReasons.map((r) => r.rule)).toEqual(['mostUsersRemoved']);
  });
});

describe('sluice validate', () => {
  it('reports rejected records and malformed CSV where they are, offline', async () => {
    const lines = ids(1100).map(line);
    lines[7] = 'u7,u7@corp.example,Given7,Family, Seven';
    const rejected = await validateFolder(await uploadSet({ 'control.json': control(), 'users.csv': csv(lines) }));
    expect(rejected.problems.map((p) => p.text)).toEqual(['users.csv:9:5: has 5 fields but the header has 4; check for an unquoted "," or a missing value']);

    lines[1040] = 'u1040,u1040@corp.example,"Bob"x,Family';
    const malformed = await validateFolder(await uploadSet({ 'control.json': control(), 'users.csv': csv(lines) }));
    expect(malformed.ok).toBe(false);
    expect(malformed.problems.map((p) => p.text)).toContain(
      'users.csv:1042:3: malformed CSV: "x" follows the closing quote of field 3 (character 31 of the line); a field must end at its closing " (write a quote inside a quoted field as "")',
    );
  });
});
