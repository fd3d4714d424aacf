import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readChanges, type ChangeLogEntry } from '../../src/directory/changeLog.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { migrationSource } from '../../src/storage/migrations/index.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, samples } from '../helpers/uploads.js';

describe.each(testDatabases)('reading the change log by commit_seq on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await addFeed(db(), 'other');
  });
  afterEach(async () => env?.close());

  /** Applies basic to demo, changes to demo, basic to other; returns the run ids in apply order. */
  async function applyRuns(): Promise<number[]> {
    const first = await approveRun(env.ctx, (await importFolder(env.ctx, 'demo', join(samples, 'basic'))).id, 'test');
    const second = await importFolder(env.ctx, 'demo', join(samples, 'changes'));
    const third = await approveRun(env.ctx, (await importFolder(env.ctx, 'other', join(samples, 'basic'))).id, 'test');
    for (const run of [first, second, third]) expect(run.state).toBe('applied');
    return [first.id, second.id, third.id];
  }

  async function readAll(limit: number, feedId?: number): Promise<{ changes: ChangeLogEntry[]; pages: number }> {
    const changes: ChangeLogEntry[] = [];
    let after = 0;
    for (let pages = 1; ; pages++) {
      const page = await readChanges(db(), { after, limit, feedId });
      changes.push(...page.changes);
      if (page.changes.length === 0) {
        expect(page.last).toBe(after);
        return { changes, pages };
      }
      expect(page.last).toBe(page.changes.at(-1)!.commitSeq);
      after = page.last;
    }
  }

  it('returns every change in commit order, the same paged by a few as in one read', async () => {
    const runs = await applyRuns();
    const table = await db()('directory_changes').orderBy('seq');
    const whole = await readChanges(db(), { after: 0, limit: 10_000 });
    expect(whole.changes).toHaveLength(table.length);
    expect(whole.changes.map((c) => c.commitSeq)).toEqual(table.map((_, i) => i + 1));
    expect(whole.last).toBe(table.length);
    // One run's changes together, runs in the order they were applied, each in its change set's order.
    const runOrder = whole.changes.map((c) => c.runId).filter((id, i, all) => id !== all[i - 1]);
    expect(runOrder).toEqual(runs);
    expect(whole.changes.map((c) => c.seq)).toEqual(table.map((r) => Number(r.seq)));

    const deleted = whole.changes.find((c) => c.runId === runs[1] && c.entity === 'user' && c.operation === 'delete')!;
    expect(deleted).toMatchObject({ entityKey: 'u1003', after: null });
    expect(deleted.before).toMatchObject({ email: expect.any(String) });

    const paged = await readAll(7);
    expect(paged.pages).toBe(Math.ceil(table.length / 7) + 1);
    expect(paged.changes).toEqual(whole.changes);

    const other = await db()('feeds').where({ slug: 'other' }).first('id');
    const ofOther = await readAll(13, other.id);
    expect(ofOther.changes).toEqual(whole.changes.filter((c) => c.feedId === other.id));
    expect(ofOther.changes.length).toBeGreaterThan(0);
  });

  it('numbers the changes already logged in their order when upgrading, and goes on from there', async () => {
    const runs = await applyRuns();
    await db().migrate.down({ migrationSource, name: '20261128C-add-change-commit-seq' }); // later migrations stay
    expect(await db().schema.hasColumn('directory_changes', 'commit_seq')).toBe(false);
    const logged = (await db()('directory_changes').orderBy('seq').pluck('seq')).map(Number);
    await db().migrate.latest({ migrationSource });

    // They keep their numbers: a cursor stored by `seq` before the upgrade goes on as a commit_seq.
    const upgraded = await readAll(50);
    expect(upgraded.changes.map((c) => c.seq)).toEqual(logged);
    expect(upgraded.changes.map((c) => c.commitSeq)).toEqual(logged);

    const next = await importFolder(env.ctx, 'other', join(samples, 'changes'));
    expect(next.state).toBe('applied');
    const after = await readChanges(db(), { after: logged.at(-1)!, limit: 10_000 });
    expect(after.changes.length).toBeGreaterThan(0);
    expect(after.changes.every((c) => c.runId === next.id)).toBe(true);
    expect(after.changes[0]!.commitSeq).toBe(logged.at(-1)! + 1);
    expect(runs).not.toContain(next.id);
  });
});
