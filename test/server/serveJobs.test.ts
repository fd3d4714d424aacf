import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/keys/keys.service.js';
import { claimJobTick } from '../../src/jobs/leases.js';
import { failIncompleteRuns, receiveFile } from '../../src/pipeline/receiving.js';
import { purgeExpiredFiles } from '../../src/archive/retention.js';
import { getFeed } from '../../src/feeds/feeds.service.js';
import { getRun, runErrors, runFiles } from '../../src/runs/runs.service.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { jobSchedule } from '../../src/jobs/schedule.js';
import { packageRoot } from '../../src/paths.js';
import { until } from '../helpers/wait.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';

describe('sluice serve with its jobs', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer({}, { jobs: true });
  });
  afterAll(async () => server?.stop());

  it('has a compiled file for every job Bree starts', () => {
    for (const job of Object.values(jobSchedule).filter((j) => 'longLived' in j)) expect(existsSync(join(packageRoot, 'dist', 'jobs', `${job.name}.js`)), job.name).toBe(true);
  });

  it('takes a set from `sluice upload` and its Bree job processes it; the client prints the outcome; the mail job reports it', async () => {
    await setFeedSetting(server.ctx.database.knex, 'demo', 'reportEmails', 'ops@example.org');
    const { key } = await createApiKey(server.ctx.database.knex, 'demo');
    const result = await runCli(['upload', '--url', server.url, '--key', key, '--feed', 'demo', join(samples, 'basic'), '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({ feed: 'demo', state: 'held', counts: { users: { created: 150 } } });
    // Without SMTP_URL the send-mail job writes the report under the data folder.
    const mail = await until('the report to be written', async () => (await readdir(join(server.dataDir, 'mail')).catch(() => [])).find((f) => f.endsWith('-report.eml')));
    expect(await readFile(join(server.dataDir, 'mail', mail), 'utf8')).toMatch(/^X-Sluice-Kind: report\nX-Sluice-Run: 1\n/);
  });

  it('takes a tick it has already run no more', async () => {
    const db = server.ctx.database.knex;
    expect(await claimJobTick(db, 'test-job', 'a', 42, 60_000)).toBe(true);
    expect(await claimJobTick(db, 'test-job', 'a', 42, 60_000)).toBe(false);
  });

  it('fails an upload set that stays incomplete, saying what never arrived', async () => {
    const db = server.ctx.database.knex;
    const feed = await getFeed(db, 'demo');
    const { createReadStream } = await import('node:fs');
    const { run } = await receiveFile(server.ctx, feed, 'http', 'control.json', { stream: createReadStream(join(samples, 'basic', 'control.json')) });
    expect(await failIncompleteRuns(server.ctx, 60_000)).toEqual([]);
    expect(await failIncompleteRuns(server.ctx, -1)).toEqual([run.id]);
    expect((await getRun(db, run.id)).state).toBe('failed');
    expect((await runErrors(db, run.id)).map((e) => e.text).sort()).toEqual(['groups.csv: never arrived', 'memberships.csv: never arrived', 'people.csv: never arrived']);
  });

  it('removes archived files past retention and keeps the run', async () => {
    const db = server.ctx.database.knex;
    // Its own failed run, whatever the tests before it did.
    await addFeed(db, 'retention');
    const imported = await importFolder(server.ctx, 'retention', join(samples, 'invalid', 'set-level'));
    const failed = await until('the run to fail', async () => ((await getRun(db, imported.id)).state === 'failed' ? getRun(db, imported.id) : null));
    const [file] = await runFiles(db, failed.id);
    expect(existsSync(join(server.dataDir, 'archive', file!.storageKey))).toBe(true);
    expect(await purgeExpiredFiles(server.ctx, new Date(Date.now() + 89 * 86_400_000))).toBe(0);
    expect(await purgeExpiredFiles(server.ctx, new Date(Date.now() + 91 * 86_400_000))).toBeGreaterThan(0);
    expect(existsSync(join(server.dataDir, 'archive', file!.storageKey))).toBe(false);
    expect((await runFiles(db, failed.id))[0]).toMatchObject({ purged: true });
    expect((await getRun(db, failed.id)).state).toBe('failed');
  });
});

describe.each(testDatabases)('job ticks raced by separate processes on $name', (database) => {
  const PROCESSES = 3;
  const TICKS = 40;
  let env: TestEnv;
  beforeAll(async () => {
    env = await openTestEnv(database);
  });
  afterAll(async () => env?.close());

  it('runs each job tick once across processes', async () => {
    // The processes open their connections first; the race starts when all are ready.
    const startAt = Date.now() + 5_000;
    const racers = Array.from({ length: PROCESSES }, (_, i) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'claimJobTicks.mjs'), `p${i}`, String(startAt), String(TICKS), '50'], {
          env: { ...process.env, DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir, LOG_LEVEL: 'warn' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }),
    );
    const results = await Promise.all(racers);
    for (const r of results) expect([r.code, r.stderr]).toEqual([0, '']);
    const won = results.map((r) => JSON.parse(r.stdout) as { owner: string; won: number[] });
    const ticks = won.flatMap((w) => w.won).sort((a, b) => a - b);
    // Never twice. A tick may pass unrun while another process still holds the job's lease from
    // an earlier tick (a job never overlaps itself), which a loaded machine makes happen.
    expect(ticks, `no tick won twice: ${JSON.stringify(won)}`).toEqual([...new Set(ticks)]);
    expect(ticks.length, `ticks won: ${JSON.stringify(won)}`).toBeGreaterThanOrEqual(TICKS / 2);
    const recorded = (await env.ctx.database.knex('job_ticks').where({ name: 'race' }).orderBy('tick').select('tick', 'owner')) as { tick: number; owner: string }[];
    expect(recorded.map((r) => Number(r.tick))).toEqual(ticks);
    // The processes really competed: more than one of them won ticks.
    expect(new Set(recorded.map((r) => r.owner)).size, JSON.stringify(won)).toBeGreaterThan(1);
  });
});
