import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed, getFeed } from '../../src/feeds/feeds.service.js';
import { composeRunReport } from '../../src/mail/runReports.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun } from '../../src/runs/runActions.js';
import { getRun, runEvents } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, samples } from '../helpers/uploads.js';

const sample = (name: string) => join(samples, name);

/** PRODUCT §5: only a newer snapshot that passed validation replaces older waiting runs. */
describe.each(testDatabases)('a newer full upload that fails, on $name', (database) => {
  let env: TestEnv;
  const db = () => env.ctx.database.knex;
  /** Files a set as queued without processing it, as an upload channel does. */
  const queue = async (name: string) => runFromFolder(env.ctx, await getFeed(db(), 'demo'), sample(name), { keepSource: true });

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(db(), 'demo');
    await approveRun(env.ctx, (await importFolder(env.ctx, 'demo', sample('basic'))).id);
  });
  afterEach(async () => env?.close());

  it('leaves the held run held, and its timeline and the failed run’s report name each other', async () => {
    const held = await importFolder(env.ctx, 'demo', sample('mass-removal'));
    expect(held.state).toBe('held');
    const broken = await importFolder(env.ctx, 'demo', sample('invalid/set-level'));
    expect(broken.state).toBe('failed');

    expect((await getRun(db(), held.id)).state).toBe('held');
    const notice = (await runEvents(db(), held.id)).at(-1)!;
    expect(notice.message).toBe(`run ${broken.id}, a newer upload, failed validation and did not replace this run; it stays held and still waits for review`);
    const feed = await getFeed(db(), 'demo');
    const report = await composeRunReport(env.ctx, await getRun(db(), broken.id), feed, 'k');
    expect(report.text).toContain(`This newer upload failed, so it did not replace run ${held.id}: run ${held.id} stays held and still waits for review`);
    expect(report.html).toContain(`run ${held.id}</a>: run ${held.id} stays held`);
    // The held run is still the one to decide on.
    expect((await approveRun(env.ctx, held.id)).state).toBe('applied');
  });

  it('still supersedes the held run with a newer snapshot that passes validation', async () => {
    const held = await importFolder(env.ctx, 'demo', sample('mass-removal'));
    const good = await importFolder(env.ctx, 'demo', sample('changes'));
    expect(good.state).toBe('applied');
    expect((await getRun(db(), held.id)).state).toBe('superseded');
    expect((await runEvents(db(), held.id)).at(-1)!.message).toBe(`superseded by run ${good.id}, a newer full snapshot`);
  });

  it('processes the older queued snapshot when the newest one fails: the newest good snapshot is the truth', async () => {
    const older = await queue('changes');
    const newest = await queue('invalid/set-level');
    await processQueue(env.ctx);
    expect((await getRun(db(), newest.id)).state).toBe('failed');
    const after = await getRun(db(), older.id);
    expect(after.state).toBe('applied');
    const messages = (await runEvents(db(), older.id)).map((e) => e.message);
    expect(messages).toContain(`run ${newest.id}, a newer upload, failed validation and did not replace this run; it stays queued and is processed next`);
  });

  it('supersedes the older queued snapshot once the newest one has passed validation, not before', async () => {
    const older = await queue('changes');
    const newest = await queue('mass-removal');
    await processQueue(env.ctx);
    expect((await getRun(db(), newest.id)).state).toBe('held');
    expect((await getRun(db(), older.id)).state).toBe('superseded');
  });
});
