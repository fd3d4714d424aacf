import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { processQueue, recoverStaleRuns } from '../../src/pipeline/queue.js';
import { approveRun } from '../../src/runs/runActions.js';
import { listRuns } from '../../src/runs/runs.service.js';
import { sluice } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { directorySnapshot, directoryUser } from '../helpers/directory.js';
import { importFolder, samples } from '../helpers/uploads.js';

const LEASE_SECONDS = 1;

describe.each(testDatabases)('a process killed mid-run on $name', (database) => {
  let env: TestEnv;

  beforeEach(async () => {
    env = await openTestEnv(database);
    await addFeed(env.ctx.database.knex, 'demo');
    const first = await importFolder(env.ctx, 'demo', join(samples, 'basic'));
    await approveRun(env.ctx, first.id);
  });
  afterEach(async () => env?.close());

  /** Starts `sluice import` of the changes sample in a child that stops at `point`, then SIGKILLs it. */
  async function killAt(point: string) {
    const marker = join(await mkdtemp(join(tmpdir(), 'sluice-fault-')), 'reached');
    const { child, done } = sluice(['import', join(samples, 'changes'), '--feed', 'demo', '--keep'], {
      DATABASE_URL: env.url,
      SLUICE_DATA_DIR: env.dataDir,
      SLUICE_FAULT: point,
      SLUICE_FAULT_FILE: marker,
      SLUICE_LEASE_SECONDS: String(LEASE_SECONDS),
    });
    for (let waited = 0; !existsSync(marker); waited += 50) {
      if (waited > 60_000) throw new Error(`the child never reached ${point}: ${(await done).stderr}`);
      await sleep(50);
    }
    child.kill('SIGKILL');
    const result = await done;
    expect(result.signal).toBe('SIGKILL');
    const [run] = await listRuns(env.ctx.database.knex, { limit: 1 });
    return run!;
  }

  it.each(['apply:after-user-creates', 'apply:after-user-updates', 'apply:before-change-log'])(
    'leaves the directory as before when killed at %s, and the run completes on recovery',
    async (point) => {
      const before = await directorySnapshot(env.ctx, 'demo');
      const changeLog = await env.ctx.database.knex('directory_changes').count({ n: '*' });
      const run = await killAt(point);
      expect(run.state).toBe('applying');
      expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
      expect(await env.ctx.database.knex('directory_changes').count({ n: '*' })).toEqual(changeLog);

      await sleep(LEASE_SECONDS * 1000 + 200);
      expect(await recoverStaleRuns(env.ctx)).toEqual([run.id]);
      const [after] = await listRuns(env.ctx.database.knex, { limit: 1 });
      expect(after).toMatchObject({ id: run.id, state: 'applied' });
      expect(after!.counts.users).toMatchObject({ created: 1, updated: 1, suspended: 2, deleted: 1 });
      expect(await directoryUser(env.ctx, 'u1001')).toMatchObject({ last_name: 'Schmidt-Weber' });
      expect(await directoryUser(env.ctx, 'u1003')).toBeUndefined();
    },
  );

  it('queues a run killed during validation again, and processes it once', async () => {
    const before = await directorySnapshot(env.ctx, 'demo');
    const run = await killAt('validate:after-staging');
    expect(run.state).toBe('validating');
    expect(await directorySnapshot(env.ctx, 'demo')).toEqual(before);
    await sleep(LEASE_SECONDS * 1000 + 200);
    const processed = await processQueue(env.ctx);
    expect(processed.map((r) => [r.id, r.state])).toEqual([[run.id, 'applied']]);
    expect(await env.ctx.database.knex('staging_users').count({ n: '*' })).toEqual([{ n: 0 }]);
  });
});
