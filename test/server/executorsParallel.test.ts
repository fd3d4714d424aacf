import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed, getFeed, updateFeedSettings } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { getRun } from '../../src/runs/runs.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const mariadb = testDatabases.find((d) => d.name === 'mysql')!;

// MariaDB lets several runs write at once: one process runs several executors.
describe('several run executors in one `sluice serve` on MariaDB', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const created = await mariadb.create();
    drop = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url, SLUICE_EXECUTORS: '2' }, { jobs: true });
  });
  afterAll(async () => {
    await server?.stop();
    await drop?.();
  });

  it("applies a small run of feed B queued after feed A's big run while A still validates", async () => {
    const db = server.ctx.database.knex;
    for (const slug of ['a', 'b']) {
      await addFeed(db, slug);
      await updateFeedSettings(db, slug, { holdFirstRun: 'false' }, 'test');
    }
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), 100_000);
    const big = await runFromFolder(server.ctx, await getFeed(db, 'a'), folder, { keepSource: true });
    await until('the big run to validate', async () => ((await getRun(db, big.id)).progress?.rows ?? 0) > 0, 60_000);
    const small = await runFromFolder(server.ctx, await getFeed(db, 'b'), join(samples, 'basic'), { keepSource: true });
    await until('the small run to end', async () => !['queued', 'validating', 'applying'].includes((await getRun(db, small.id)).state), 60_000);
    expect((await getRun(db, small.id)).state).toBe('applied');
    // One executor would have finished A first.
    expect(['validating', 'applying']).toContain((await getRun(db, big.id)).state);
    await until('the big run to end', async () => !['queued', 'validating', 'applying'].includes((await getRun(db, big.id)).state), 240_000);
    expect((await getRun(db, big.id)).state).toBe('applied');
  }, 400_000);
});
