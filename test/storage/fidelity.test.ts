import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { runErrors, runEvents } from '../../src/runs/runs.service.js';
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
