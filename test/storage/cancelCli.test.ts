import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { listRuns, runEvents } from '../../src/runs/runs.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { runCli, sluice } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directorySnapshot } from '../helpers/directory.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

/** Needs the compiled CLI: `npx tsc -p .` first. */
describe.each(testDatabases)('`sluice run cancel --unsafe` against a live `sluice import`, on $name', (database) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(env.ctx.database.knex, 'demo');
    await approveRun(env.ctx, (await importFolder(env.ctx, 'demo', join(samples, 'basic'))).id);
  });
  afterEach(async () => env?.close());

  it('shows the live worker, stops it, and the waiting import exits 1 saying cancelled', async () => {
    const db = env.ctx.database.knex;
    const cliEnv = { DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir };
    const before = await directorySnapshot(env.ctx, 'demo');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), 300_000);
    const importing = sluice(['import', folder, '--feed', 'demo', '--keep'], cliEnv);
    // Reading data files starts once the control file is stored on the run.
    const run = await until('the import to be reading its files', async () => (await listRuns(db, { states: ['validating'] })).find((r) => r.controlFile), 60_000);

    const shown = await runCli(['run', 'show', String(run.id), '--json'], cliEnv);
    const json = JSON.parse(shown.stdout);
    expect(json.state).toBe('validating');
    expect(json.worker).toMatchObject({ alive: true });
    expect(json.worker.owner).toContain(`:${importing.child.pid}:`);
    expect(Date.parse(json.worker.heartbeatAt)).toBeGreaterThan(Date.now() - 60_000);
    const text = await runCli(['run', 'show', String(run.id)], cliEnv);
    expect(text.stdout).toContain(`worker      ${json.worker.owner}, last heartbeat ${json.worker.heartbeatAt}; alive`);

    const cancel = await runCli(['run', 'cancel', String(run.id), '--unsafe'], cliEnv);
    // Warnings may come (the cancel's staging clean-up can wait for the worker's lock), errors not.
    expect(cancel.stderr).not.toMatch(/"level":"error"/);
    expect(cancel.code).toBe(0);
    const cancelledAt = Date.now();
    const result = await importing.done;
    const stoppedAfterMs = Date.now() - cancelledAt;

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^run ${run.id} \\(feed demo\\): cancelled`));
    expect(stoppedAfterMs).toBeLessThan(10_000);
    const messages = (await runEvents(db, run.id)).map((e) => e.message);
    expect(messages.at(-1)).toBe('unsafely marked cancelled while in progress; the next run recomputes from the real directory');
    expect(messages.join('\n')).not.toMatch(/processed/);
    expect(await db('staging_users').where({ run_id: run.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
  });
});
