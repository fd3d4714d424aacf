import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { purgeExpiredFiles } from '../../src/archive/retention.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { approveRun, reapplyRun } from '../../src/runs/runActions.js';
import { countRuns, runFiles } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, samples } from '../helpers/uploads.js';

describe.each(testDatabases)('re-apply of a run whose files retention removed, on $name', (database) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(env.ctx.database.knex, 'demo');
  });
  afterEach(async () => env?.close());

  it('is refused with a clear error before any new run exists', async () => {
    const db = env.ctx.database.knex;
    const applied = await approveRun(env.ctx, (await importFolder(env.ctx, 'demo', join(samples, 'basic'))).id);
    expect(await purgeExpiredFiles(env.ctx, new Date(Date.now() + 365 * 86_400_000))).toBe(4);
    expect((await runFiles(db, applied.id)).every((f) => f.purged)).toBe(true);
    const runsBefore = await countRuns(db);

    const error = (await reapplyRun(env.ctx, applied.id, 'test').catch((e: unknown) => e)) as Error & { code?: string };
    // Nothing was created: no stray `receiving` run waiting for files that will never come.
    expect(await countRuns(db)).toBe(runsBefore);
    expect(await countRuns(db, { states: ['receiving'] })).toBe(0);
    expect(error.code).toBe('invalid_state');
    expect(error.message).toBe(
      `run ${applied.id}'s files were removed by retention (control.json, groups.csv, memberships.csv, people.csv); it cannot be re-applied — upload the set again instead`,
    );
  });
});
