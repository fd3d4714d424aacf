import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { runErrors, runEvents } from '../../src/runs/runs.service.js';
import * as normaliseEmailKeys from '../../src/storage/migrations/20261128E-normalise-email-keys.js';
import * as widenLongText from '../../src/storage/migrations/20261128E-widen-long-text-columns.js';
import { runCli } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directoryUser } from '../helpers/directory.js';
import { importFolder, uploadSet } from '../helpers/uploads.js';

/** Every value arrives whole or is a row error; real exports with unmapped columns are accepted. */
const control = (fields: Record<string, unknown> = {}, file: Record<string, unknown> = {}) => ({
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users', ...file } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', ...fields } },
});

const filler = (n: number) => Array.from({ length: n }, (_, i) => [`f${i}`, `f${i}@example.org`, 'Fill', 'Er', '', '']);
const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const csv = (header: string[], rows: string[][]) => [header, ...rows].map((r) => r.map(quote).join(',')).join('\n') + '\n';

describe.each(testDatabases)('values arrive whole on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const drop = async (files: Record<string, string | object>) => importFolder(env.ctx, 'demo', await uploadSet(files));

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
  });
  afterEach(async () => env?.close());

  it('stores a 40 000-character biography of two-byte characters whole, in the directory and the change log', async () => {
    const biography = 'é'.repeat(39_999) + '!';
    const run = await drop({
      'control.json': control({ biography: 'bio' }),
      'users.csv': csv(['id', 'email', 'first', 'last', 'bio'], [['u1', 'u1@example.org', 'Ann', 'Lee', biography]]),
    });
    expect(run).toMatchObject({ state: 'applied', errorCount: 0 });
    const user = await directoryUser(env.ctx, 'u1');
    // Lengths first: a failure prints two numbers, not two 40 000-character strings.
    expect(user.biography.length).toBe(40_000);
    expect(user.biography === biography).toBe(true);
    const change = await db()('directory_changes').where({ run_id: run.id, entity_key: 'u1' }).first('after_values');
    expect(JSON.stringify(JSON.parse(change.after_values)).includes(biography)).toBe(true);
  });

  it('repairs a biography an earlier version stored cut: the next run writes it whole and logs the update', async () => {
    const biography = 'é'.repeat(39_999) + '!';
    const files = { 'control.json': control({ biography: 'bio' }), 'users.csv': csv(['id', 'email', 'first', 'last', 'bio'], [['u1', 'u1@example.org', 'Ann', 'Lee', biography]]) };
    await drop(files);
    // What TEXT made of it: 32 767 two-byte characters, under the hash of the whole value.
    await db()('directory_users').where({ user_key: 'u1' }).update({ biography: biography.slice(0, 32_767) });
    expect(await drop(files)).toMatchObject({ state: 'applied', counts: { users: { updated: 0, unchanged: 1 } } });

    await widenLongText.up(db());
    const repaired = await drop(files);
    expect(repaired).toMatchObject({ state: 'applied', counts: { users: { updated: 1 } } });
    expect((await directoryUser(env.ctx, 'u1')).biography === biography).toBe(true);
    const change = await db()('directory_changes').where({ run_id: repaired.id, entity_key: 'u1' }).first('before_values', 'after_values');
    expect([JSON.parse(change.before_values).biography.length, JSON.parse(change.after_values).biography.length]).toEqual([32_767, 40_000]);
  });

  it('stores twenty 4 000-character custom fields of multi-byte characters whole', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const values = names.map((_, i) => `${i}`.padEnd(4000, 'ü'));
    const run = await drop({
      'control.json': control(Object.fromEntries(names.map((n) => [`custom.${n}`, n]))),
      'users.csv': csv(['id', 'email', 'first', 'last', ...names], [['u1', 'u1@example.org', 'Ann', 'Lee', ...values]]),
    });
    expect(run).toMatchObject({ state: 'applied', errorCount: 0 });
    const custom = JSON.parse((await directoryUser(env.ctx, 'u1')).custom) as Record<string, string>;
    expect(names.map((n) => custom[n]?.length)).toEqual(values.map((v) => v.length));
    expect(names.every((n, i) => custom[n] === values[i])).toBe(true);
  });

  it('rejects a value longer than its limit as a row error naming file, line and column', async () => {
    const run = await drop({
      'control.json': control({ biography: 'bio', country: 'country' }),
      'users.csv': csv(
        ['id', 'email', 'first', 'last', 'country', 'bio'],
        [
          ['u1', 'u1@example.org', 'Ann', 'Lee', 'NZ', 'x'.repeat(65_536)],
          ['u2', 'u2@example.org', 'Bob', 'Ray', '🌍'.repeat(255), 'ok'],
          // Enough good rows to stay under the feed's 5 % error limit.
          ...filler(40),
        ],
      ),
    });
    expect(run).toMatchObject({ state: 'applied', errorCount: 1 });
    const errors = await runErrors(db(), run.id);
    expect(errors).toMatchObject([{ code: 'value_too_long', file: 'users.csv', line: 2, column: 6 }]);
    expect(await db()('directory_users').where({ user_key: 'u1' }).first()).toBeUndefined();
    // 255 characters outside the BMP are 510 UTF-16 units, but 255 characters to the database.
    expect((await directoryUser(env.ctx, 'u2')).country).toBe('🌍'.repeat(255));
  });
});

/** A Canvas SIS users.csv as exported: a dozen columns, mapped in part, with passwords. */
const canvasHeader = [
  'user_id', 'integration_id', 'login_id', 'password', 'ssha_password', 'first_name', 'last_name',
  'full_name', 'sortable_name', 'short_name', 'email', 'status', 'pronouns', 'declared_user_type',
];
const canvasRow = (i: number, over: Partial<Record<string, string>> = {}) => {
  const v: Record<string, string> = {
    user_id: `sis-${i}`, integration_id: `int-${i}`, login_id: `login${i}`, password: `Secret!${i}`, ssha_password: '{SSHA}abc',
    first_name: `First${i}`, last_name: `Last${i}`, full_name: `First${i} Last${i}`, sortable_name: `Last${i}, First${i}`,
    short_name: `F${i}`, email: `user${i}@school.example`, status: 'active', pronouns: i % 2 ? 'she/her' : '',
    declared_user_type: ['student', 'teacher', 'observer'][i % 3]!, ...over,
  };
  return canvasHeader.map((c) => v[c]!);
};
const canvasControl = (file: Record<string, unknown> = {}) => ({
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users', ignoreColumns: ['sortable_name'], ...file } },
  users: {
    key: 'username',
    fields: {
      username: 'user_id',
      email: 'email',
      firstName: 'first_name',
      lastName: 'last_name',
      jobTitle: { column: 'declared_user_type', map: { student: 'Student', teacher: 'Teacher' }, default: 'Staff' },
      'custom.pronouns': 'pronouns',
    },
    delete: { column: 'status', values: ['deleted'] },
  },
});

describe.each(testDatabases)('real exports on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  const drop = async (files: Record<string, string | object>) => importFolder(env.ctx, 'demo', await uploadSet(files));
  const canvas = (rows: string[][], file: Record<string, unknown> = {}) => drop({ 'control.json': canvasControl(file), 'users.csv': csv(canvasHeader, rows) });

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await setFeedSetting(db(), 'demo', 'holdFirstRun', 'false');
  });
  afterEach(async () => env?.close());

  it('accepts a Canvas users.csv mapped in part, lists the ignored columns once and never stores a password', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => canvasRow(i));
    const run = await canvas(rows);
    expect(run).toMatchObject({ state: 'applied', errorCount: 0, counts: { users: { created: 30 } } });
    const listed = (await runEvents(db(), run.id)).map((e) => e.message).filter((m) => m.includes('ignored columns'));
    expect(listed).toEqual(['users.csv: ignored columns: integration_id, login_id, password, ssha_password, full_name, sortable_name, short_name — kept in the source record for user lookup, except password (its name marks a secret), ssha_password (its name marks a secret), sortable_name (in ignoreColumns)']);

    const user = await directoryUser(env.ctx, 'sis-2');
    expect(user).toMatchObject({ job_title: 'Staff', first_name: 'First2' });
    expect(JSON.parse(user.source_record)).toEqual({
      user_id: 'sis-2', integration_id: 'int-2', login_id: 'login2', first_name: 'First2', last_name: 'Last2', full_name: 'First2 Last2',
      short_name: 'F2', email: 'user2@school.example', status: 'active', pronouns: '', declared_user_type: 'observer',
    });
    const stored = await db()('directory_users').pluck('source_record');
    expect(stored.some((s: string) => /Secret!|SSHA|password/i.test(s))).toBe(false);

    // New passwords only (a nightly export rotates them): nothing the directory holds changes.
    const again = await canvas(Array.from({ length: 30 }, (_, i) => canvasRow(i, { password: `Rotated${i}`, sortable_name: 'x' })));
    expect(again).toMatchObject({ state: 'applied', unchangedRows: 30, counts: { users: { created: 0, updated: 0, unchanged: 30 } } });
  });

  it('fails a file that says "unmappedColumns": "error" on a column neither mapped nor ignored', async () => {
    const ignored = ['integration_id', 'login_id', 'password', 'ssha_password', 'full_name', 'sortable_name'];
    const run = await canvas([canvasRow(1)], { unmappedColumns: 'error', ignoreColumns: ignored });
    expect(run.state).toBe('failed');
    expect(await runErrors(db(), run.id)).toMatchObject([{ code: 'header_unknown', file: 'users.csv', line: 1, column: 10, message: expect.stringMatching(/"short_name"/) }]);
  });

  it('knows one user by any Unicode spelling of its address, and rejects a key with a BOM or NUL', async () => {
    const control = { version: 1, mode: 'full', files: { 'users.csv': { type: 'users' } }, users: { key: 'email', fields: { email: 'email', firstName: 'first', lastName: 'last' } } };
    const people = (first: string[][]) => drop({ 'control.json': control, 'users.csv': csv(['email', 'first', 'last'], [...first, ...filler(40).map((f) => [f[1]!, 'Fill', 'Er'])]) });
    const first = await people([['Zoë@Example.org', 'Zoë', 'Ng']]);
    expect(first).toMatchObject({ state: 'applied', counts: { users: { created: 41 } } });
    const decomposed = await people([['ZOE\u0308@EXAMPLE.ORG', 'Zoë', 'Ng']]);
    expect(decomposed).toMatchObject({ state: 'applied', counts: { users: { created: 0, suspended: 0 } } });
    const fullwidth = await people([['Ｚｏë＠ｅｘａｍｐｌｅ．ｏｒｇ', 'Zoë', 'Ng']]);
    expect(fullwidth).toMatchObject({ state: 'applied', counts: { users: { created: 0, suspended: 0 } } });
    expect(await db()('directory_users').where('user_key', 'like', 'z%').pluck('user_key')).toEqual(['zoë@example.org']);

    const bom = await people([['zoë\uFEFF@example.org', 'Zoë', 'Ng'], ['ann\u0000@example.org', 'Ann', 'Lee']]);
    expect(bom).toMatchObject({ state: 'applied', errorCount: 2, counts: { users: { created: 0, suspended: 0 } } });
    expect(await runErrors(db(), bom.id)).toMatchObject([
      { code: 'key_invalid', line: 2, column: 1 },
      { code: 'key_invalid', line: 3, column: 1 },
    ]);
    expect(await db()('directory_users').count({ n: '*' }).first()).toMatchObject({ n: 41 });
  });

  it('re-keys users an email-keyed feed stored under another spelling, with their memberships', async () => {
    const control = { version: 1, mode: 'full', files: { 'users.csv': { type: 'users' } }, users: { key: 'email', fields: { email: 'email', firstName: 'first', lastName: 'last', groups: 'g' } } };
    const people = (email: string) => drop({ 'control.json': control, 'users.csv': csv(['email', 'first', 'last', 'g'], [[email, 'Zoë', 'Ng', 'staff'], ...filler(40).map((f) => [f[1]!, 'Fill', 'Er', 'staff'])]) });
    expect(await people('Zoe\u0308@example.org')).toMatchObject({ state: 'applied', counts: { users: { created: 41 } } });
    // What the code before stored for a source sending the decomposed spelling.
    const decomposed = 'zoe\u0308@example.org';
    await db()('directory_users').where({ user_key: 'zoë@example.org' }).update({ user_key: decomposed });
    await db()('directory_memberships').where({ user_key: 'zoë@example.org' }).update({ user_key: decomposed });

    await normaliseEmailKeys.up(db());
    expect(await db()('directory_users').where('user_key', 'like', 'zo%').pluck('user_key')).toEqual(['zoë@example.org']);
    expect(await db()('directory_memberships').where('user_key', 'like', 'zo%').pluck('user_key')).toEqual(['zoë@example.org']);
    const next = await people('Zoe\u0308@example.org');
    expect(next).toMatchObject({ state: 'applied', counts: { users: { created: 0, suspended: 0 }, memberships: { added: 0, removed: 0 } } });
  });

  it('takes files and columns named __proto__, constructor or toString like any other', async () => {
    // Object.fromEntries makes "__proto__" an own key, which JSON.stringify writes like any other.
    const control = {
      version: 1,
      mode: 'full',
      files: Object.fromEntries([['constructor', { type: 'users' }], ['__proto__', { type: 'memberships' }]]),
      users: { key: 'username', fields: { username: 'constructor', email: 'toString', firstName: 'valueOf', lastName: 'last' } },
      memberships: { fields: { user: 'hasOwnProperty', group: 'isPrototypeOf' } },
    };
    const users = csv(['constructor', 'toString', 'valueOf', 'last'], [['u1', 'u1@example.org', 'Ann', 'Lee']]);
    const files = (controlText: string) =>
      Object.fromEntries([['control.json', controlText], ['constructor', users], ['__proto__', csv(['hasOwnProperty', 'isPrototypeOf'], [['u1', 'staff']])]]);
    const run = await drop(files(JSON.stringify(control)));
    expect(run).toMatchObject({ state: 'applied', errorCount: 0, counts: { users: { created: 1 }, memberships: { added: 1 } } });
    expect(await directoryUser(env.ctx, 'u1')).toMatchObject({ email: 'u1@example.org', first_name: 'Ann' });

    // A file named twice in control.json is refused, with the line.
    const text = JSON.stringify(control, null, 2).replace('"__proto__": {', '"constructor": { "type": "users" },\n    "__proto__": {');
    const twice = await drop(files(text));
    expect(twice.state).toBe('failed');
    expect(await runErrors(db(), twice.id)).toMatchObject([{ code: 'control_duplicate_key', file: 'control.json', line: 8, message: expect.stringMatching(/"constructor" is named twice/) }]);
  });
});

describe.each(testDatabases.filter((d) => d.name === 'mysql'))('the MySQL bulk writer on $name', (database) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await openTestEnv(database);
  });
  afterEach(async () => env?.close());

  it('fails loudly when LOAD DATA would store a value cut', async () => {
    const { knex, dialect } = env.ctx.database;
    const writer = await dialect.openBulkWriter(knex, 'staging_groups', ['run_id', 'code', 'name', 'file', 'line']);
    await writer.write([1, 'g1', 'fine', 'groups.csv', 2]);
    await writer.write([1, 'g2', 'n'.repeat(300), 'groups.csv', 3]);
    await expect(writer.close()).rejects.toThrow(/1 warning.*Data truncated for column 'name' at row 2/);
  });
});

describe('sluice validate, offline', () => {
  it('lists the ignored columns and applies the same limits as a run', async () => {
    const rows = [canvasRow(1, { first_name: 'é'.repeat(256) }), ...Array.from({ length: 30 }, (_, i) => canvasRow(i + 2))];
    const folder = await uploadSet({ 'control.json': canvasControl(), 'users.csv': csv(canvasHeader, rows) });
    const json = await runCli(['validate', folder, '--json'], { DATABASE_URL: 'mysql://nobody@127.0.0.1:1/none' });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      errorRows: 1,
      ignoredColumns: ['users.csv: ignored columns: integration_id, login_id, password, ssha_password, full_name, sortable_name, short_name — kept in the source record for user lookup, except password (its name marks a secret), ssha_password (its name marks a secret), sortable_name (in ignoreColumns)'],
      errors: [{ code: 'value_too_long', file: 'users.csv', line: 2, column: 6, message: 'firstName is 256 characters long; at most 255 are allowed' }],
    });
    const text = await runCli(['validate', folder], {});
    expect(text.stdout).toContain('note: users.csv: ignored columns: integration_id, login_id, password');
  });
});
