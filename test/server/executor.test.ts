import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed, getFeed } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import type { ProgressSnapshot } from '../../src/pipeline/progress.js';
import { cancelRun } from '../../src/runs/runActions.js';
import { getRun, runEvents } from '../../src/runs/runs.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

// The server's own executor (a long-lived worker thread Bree starts) takes the runs here.
describe('the run executor of `sluice serve`', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const cliEnv = () => ({ SLUICE_DATA_DIR: server.dataDir });
  beforeAll(async () => {
    server = await startTestServer({}, { jobs: true });
  });
  afterAll(async () => server?.stop());

  it('starts a run queued in this process within half a second, not at the next poll', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'quick');
    const feed = await getFeed(db, 'quick');
    const processed = async () => {
      const run = await runFromFolder(server.ctx, feed, join(samples, 'basic'), { keepSource: true });
      await until('the run to be processed', async () => !['queued', 'validating', 'applying'].includes((await getRun(db, run.id)).state));
      const events = await runEvents(db, run.id);
      const at = (message: string) => new Date(events.find((e) => e.message.includes(message))!.at).getTime();
      return at('validating') - at('queued');
    };
    await processed(); // the executor thread has started
    // The poll is every 2 s: three pick-ups in time are the wake-up's doing.
    for (let i = 0; i < 3; i++) expect(await processed()).toBeLessThan(500);
  });

  it('reports progress that advances while a 100 000-row run validates; run show --watch follows it', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'big');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), 100_000);
    const run = await runFromFolder(server.ctx, await getFeed(db, 'big'), folder, { keepSource: true });
    const watching = runCli(['run', 'show', String(run.id), '--watch'], cliEnv());
    const seen: ProgressSnapshot[] = [];
    await until(
      'the run to end',
      async () => {
        const current = await getRun(db, run.id);
        if (current.progress && current.state === 'validating' && current.progress.phase === 'validating') seen.push(current.progress);
        return !['queued', 'validating', 'applying'].includes(current.state);
      },
      180_000,
    );
    const rows = [...new Set(seen.map((p) => p.rows))];
    expect(rows.length, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    const later = seen.find((p) => p.rows > 0 && p.rowsPerSecond)!;
    expect(later).toMatchObject({ phase: 'validating', estimated: true });
    // Estimated from the bytes read: near the real 100 000.
    expect(later.total).toBeGreaterThan(80_000);
    expect(later.total).toBeLessThan(125_000);
    expect(later.etaSeconds).not.toBeNull();
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(3); // held: a first run of a feed holds
    expect(watched.stderr).toMatch(/run validating: validating: [\d,]+ of ~[\d,]+ rows, [\d,]+ rows\/s/);
    expect(watched.stdout).toMatch(/held/);
  }, 240_000);

  it('stops working on a run cancelled while it validates, leaves the directory as it was, and takes the next run', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'cancelled');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), 100_000);
    const run = await runFromFolder(server.ctx, await getFeed(db, 'cancelled'), folder, { keepSource: true });
    await until('the executor to have read some rows', async () => ((await getRun(db, run.id)).progress?.rows ?? 0) > 0);
    await cancelRun(server.ctx, run.id, { unsafe: true, actor: 'test' });
    await addFeed(db, 'next');
    const next = await runFromFolder(server.ctx, await getFeed(db, 'next'), join(samples, 'basic'), { keepSource: true });
    // One executor: the next run is processed only once it has let go of the cancelled one.
    await until('the next run to be processed', async () => (await getRun(db, next.id)).state === 'held', 20_000);
    expect((await getRun(db, run.id)).state).toBe('cancelled');
    const feed = await getFeed(db, 'cancelled');
    expect(Number((await db('directory_users').where({ feed_id: feed.id }).count({ n: '*' }))[0]!.n)).toBe(0);
    expect(Number((await db('staging_users').where({ run_id: run.id }).count({ n: '*' }))[0]!.n)).toBe(0);
  }, 60_000);
});
