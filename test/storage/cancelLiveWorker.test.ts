import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openContext, type Context } from '../../src/context.js';
import { addFeed, getFeed } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun, cancelRun } from '../../src/runs/runActions.js';
import { presentRun } from '../../src/runs/runs.presenter.js';
import { getRun, runEvents } from '../../src/runs/runs.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directorySnapshot } from '../helpers/directory.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const USERS = 200_000;
/**
 * Lines are counted as they leave the archive, well ahead of the records the worker has taken:
 * the archive reads 256 KB (~4 700 lines) at a time, the reader queues 2 000 rows, a batch is
 * staged while the next is parsed, and on SQLite the worker's last write waits for the cancel's
 * own clean-up. The worker sees the cancel at its next batch (debug runs: 10–50 ms after it);
 * what the streams had pulled by then stays under this (measured 0–33 000), while without the
 * check the worker reads the whole file.
 */
const READ_AFTER_CANCEL = 50_000;

describe.each(testDatabases)('unsafe cancel of a run whose worker is alive, on $name', (database) => {
  let env: TestEnv;
  let admin: Context;

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(env.ctx.database.knex, 'demo');
    await approveRun(env.ctx, (await importFolder(env.ctx, 'demo', join(samples, 'basic'))).id);
    // The administrator acts through a connection of their own, as the admin page or the CLI does.
    admin = await openContext(loadConfig({ DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir }), { migrate: false });
  });
  afterEach(async () => {
    await admin?.database.close();
    await env?.close();
  });

  it('stops the worker within one batch; it writes nothing more and the directory stays as it was', async () => {
    const db = env.ctx.database.knex;
    const before = await directorySnapshot(env.ctx, 'demo');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), USERS);
    // Observe how far the worker reads the users file (the archive itself is real).
    let linesRead = 0;
    const read = env.ctx.archive.read.bind(env.ctx.archive);
    env.ctx.archive.read = (key) => {
      const stream = read(key);
      if (!key.endsWith('users.csv')) return stream;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          for (const byte of chunk) if (byte === 10) linesRead++;
          done(null, chunk);
        },
      });
      stream.on('error', (error) => counter.destroy(error));
      return stream.pipe(counter);
    };
    const run = await runFromFolder(env.ctx, await getFeed(db, 'demo'), folder, { keepSource: true });
    const worker = processQueue(env.ctx);
    await until('the worker to be reading the users file', async () => linesRead > 20_000, 60_000);

    // The run page and `run show` tell the administrator that a live worker holds it.
    const shown = await presentRun(admin.database.knex, await getRun(admin.database.knex, run.id), { slug: 'demo' });
    expect(shown.state).toBe('validating');
    expect(shown.worker).toMatchObject({ owner: env.ctx.workerId, alive: true });
    expect(Date.now() - new Date(shown.worker!.heartbeatAt!).getTime()).toBeLessThan(env.ctx.leaseSeconds * 1000);

    const cancelled = await cancelRun(admin, run.id, { actor: 'test', unsafe: true });
    const readAtCancel = linesRead;
    expect(cancelled.state).toBe('cancelled');
    const [finished] = await worker;
    const readAfterCancel = linesRead - readAtCancel;

    expect(finished!.state).toBe('cancelled');
    expect(readAfterCancel).toBeLessThanOrEqual(READ_AFTER_CANCEL);
    expect(linesRead).toBeLessThan(USERS);
    // Nothing more on the run: no "processed" event, no counts, no staging, no change set.
    const events = await runEvents(db, run.id);
    expect(events.at(-1)!.message).toBe('unsafely marked cancelled while in progress; the next run recomputes from the real directory');
    expect(events.map((e) => e.message).join('\n')).not.toMatch(/processed/);
    const after = await getRun(db, run.id);
    expect(after).toMatchObject({ rowCount: 0, errorCount: 0, attempts: 0, holdReasons: [], leaseOwner: null });
    expect(after.counts.users.created).toBe(0);
    for (const table of ['staging_users', 'staging_groups', 'staging_memberships', 'staging_absent', 'run_changes']) {
      expect(await db(table).where({ run_id: run.id }).count({ n: '*' }), table).toEqual([{ n: 0 }]);
    }
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
  });
});
