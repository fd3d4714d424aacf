import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { transactionRetryingDeadlocks } from '../../src/storage/retry.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';

describe.skipIf(!testDatabases.some((d) => d.name === 'mysql'))('a deadlock on MariaDB', () => {
  let env: TestEnv;
  let ids: number[];
  beforeAll(async () => {
    env = await openTestEnv(testDatabases.find((d) => d.name === 'mysql')!);
    const db = env.ctx.database.knex;
    for (const slug of ['left', 'right']) await addFeed(db, slug, {});
    ids = ((await db('feeds').whereIn('slug', ['left', 'right']).orderBy('slug').pluck('id')) as number[]).map(Number);
  });
  afterAll(() => env?.close());

  /** Two transactions that each lock one row, wait for the other to have done so, then lock the other's row. */
  async function crossLocks(transaction: (work: (trx: Knex.Transaction) => Promise<void>) => Promise<void>) {
    const { dialect } = env.ctx.database;
    let attempts = 0;
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => (release = resolve));
    const lockBoth = (first: number, second: number) =>
      transaction(async (trx) => {
        attempts++;
        await dialect.forUpdate(trx('feeds').where({ id: first }).first('id'));
        if (++arrived === 2) release();
        await bothLocked;
        await dialect.forUpdate(trx('feeds').where({ id: second }).first('id'));
        await trx('feeds').where({ id: second }).update({ updated_at: trx.fn.now() });
      });
    const outcomes = await Promise.allSettled([lockBoth(ids[0]!, ids[1]!), lockBoth(ids[1]!, ids[0]!)]);
    return { attempts, outcomes };
  }

  it('fails one of two plain transactions that lock two rows in opposite orders', async () => {
    const { outcomes } = await crossLocks((work) => env.ctx.database.knex.transaction(work));
    const failed = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    expect(failed).toHaveLength(1);
    expect(env.ctx.database.dialect.isDeadlock(failed[0]!.reason)).toBe(true);
  });

  it('completes both when each is retried as a deadlock victim, the victim run again from the start', async () => {
    const { attempts, outcomes } = await crossLocks((work) => transactionRetryingDeadlocks(env.ctx.database, 'test', work));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(attempts).toBe(3);
  });
});
