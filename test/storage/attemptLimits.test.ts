import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetOldAttempts, returnAttempt, takeAttempt, takeAttempts, type AttemptLimit } from '../../src/admins/attemptLimits.service.js';
import { openDatabase, type Database } from '../../src/storage/database.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { until } from '../helpers/wait.js';

/**
 * The attempt budgets that sign-in (and SFTP logins) take from before checking a password. On
 * MySQL a second connection pool on the same database stands for a second Sluice process.
 */
describe.each(testDatabases)('attempt limits on $name', (database) => {
  let env: TestEnv;
  let second: Database;
  const db = () => env.ctx.database.knex;
  const limit = (scope: string, max = 5, windowMinutes = 15): AttemptLimit => ({ scope, max, windowMinutes });

  beforeAll(async () => {
    env = await openTestEnv(database);
    second = database.name === 'mysql' ? openDatabase(env.url) : env.ctx.database;
  });
  afterAll(async () => {
    if (second !== env?.ctx.database) await second?.close();
    await env?.close();
  });

  it('lets exactly the budget through when 60 attempts come at once from two processes', async () => {
    const account = limit('test:parallel');
    const taken = await Promise.all(Array.from({ length: 60 }, (_, i) => takeAttempt(i % 2 ? second.knex : db(), account, 'ann@example.org')));
    expect(taken.filter(Boolean)).toHaveLength(5);
    // Another subject, and the same subject under another scope, have budgets of their own.
    expect(await takeAttempt(db(), account, 'bob@example.org')).toBe(true);
    expect(await takeAttempt(db(), limit('test:other'), 'ann@example.org')).toBe(true);
  });

  it('takes from every budget or from none, and gives back what was returned', async () => {
    const account = limit('test:account', 5);
    const address = limit('test:address', 2);
    expect(await takeAttempts(db(), [[account, 'a1'], [address, '192.0.2.1']])).toBeNull();
    expect(await takeAttempts(db(), [[account, 'a2'], [address, '192.0.2.1']])).toBeNull();
    // The address is spent: the attempt is refused by it, and a3's budget stays whole.
    expect(await takeAttempts(db(), [[account, 'a3'], [address, '192.0.2.1']])).toEqual(address);
    for (let i = 0; i < 5; i++) expect(await takeAttempt(db(), account, 'a3')).toBe(true);
    expect(await takeAttempt(db(), account, 'a3')).toBe(false);

    await returnAttempt(db(), address, '192.0.2.1');
    expect(await takeAttempt(db(), address, '192.0.2.1')).toBe(true);
    expect(await takeAttempt(db(), address, '192.0.2.1')).toBe(false);
  });

  it('opens a new window once the last one closed, and forgets windows only once they are old', async () => {
    const brief = limit('test:brief', 2, 0.01); // 600 ms
    expect(await takeAttempt(db(), brief, 'carol')).toBe(true);
    expect(await takeAttempt(db(), brief, 'carol')).toBe(true);
    expect(await takeAttempt(db(), brief, 'carol')).toBe(false);
    await until('the window to close', () => takeAttempt(db(), brief, 'carol'));
    expect(await takeAttempt(db(), brief, 'carol')).toBe(true);
    expect(await takeAttempt(db(), brief, 'carol')).toBe(false);

    await forgetOldAttempts(db(), 15);
    expect(await db()('attempt_limits').where({ scope: 'test:brief' }).first()).toBeTruthy();
    await until('the brief window to be forgotten', async () => {
      await forgetOldAttempts(db(), 0.01);
      return !(await db()('attempt_limits').where({ scope: 'test:brief' }).first());
    });
  });
});
