import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { getRun, listRuns, runEvents } from '../../src/runs/runs.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import knexFactory from 'knex';
import { writeBigSet } from '../helpers/bigSet.js';
import { sluice } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { suiteSetup } from '../helpers/suiteSetup.js';
import { directorySnapshot } from '../helpers/directory.js';
import { importFolder } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const TRIALS = 20;
/** Trials that drop the set onto a directory already holding an older version of it. */
const RERUN_TRIALS = 10;
const USERS = 12_000;
/** The older version: 5 % of the users differ, 60 more users that the set no longer has. */
const writeOlderSet = (dir: string) => writeBigSet(dir, USERS + 60, 1, 20);
/**
 * The reference imports took about 100 s on MariaDB on a loaded 2-core machine (20 s on
 * SQLite); the limit allows a machine twice as slow with room to spare. A trial starts `serve`
 * twice and processes the set up to twice, so its limits follow the measured processing time;
 * the first trial also waits for the setup.
 */
const SETUP_MS = 300_000;
const TRIAL_MS = 300_000;

/** A small seeded generator, so a failing trial can be replayed with the seed it prints. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe.each(testDatabases)('SIGKILL at random points, then a restart, on $name', (database) => {
  type Snapshot = Awaited<ReturnType<typeof directorySnapshot>>;
  let env: TestEnv;
  let set: string;
  let olderSet: string;
  /** The directory before and after the dropped set, and how long processing it takes. */
  const expected: Record<'first' | 'rerun', { before: Snapshot | null; after: Snapshot; processingMs: number }> = {} as never;
  const db = () => env.ctx.database.knex;

  // Not in beforeAll: a slow setup there would report every trial as skipped, not failed.
  const setup = suiteSetup(`the reference imports on ${database.name}`, SETUP_MS, async () => {
    env = await openTestEnv(database);
    set = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-kill-set-')), USERS);
    olderSet = await writeOlderSet(await mkdtemp(join(tmpdir(), 'sluice-kill-older-')));
    for (const kind of ['first', 'rerun'] as const) {
      const feed = `reference-${kind}`;
      await addFeed(db(), feed, { settings: { holdFirstRun: false } });
      let before: Snapshot | null = null;
      if (kind === 'rerun') {
        expect((await importFolder(env.ctx, feed, olderSet)).state).toBe('applied');
        before = await directorySnapshot(env.ctx, feed);
      }
      const started = performance.now();
      expect((await importFolder(env.ctx, feed, set)).state).toBe('applied');
      expected[kind] = { before, after: await directorySnapshot(env.ctx, feed), processingMs: performance.now() - started };
    }
    // The re-run skips most records: it must change only what differs.
    expect((await listRuns(db(), { feedId: (await db()('feeds').where({ slug: 'reference-rerun' }).first('id')).id, limit: 1 }))[0]!.counts.users).toMatchObject({
      updated: USERS / 20,
      suspended: 60,
      unchanged: USERS - USERS / 20,
    });
  });
  afterAll(async () => {
    await setup.stopped();
    await env?.close();
    for (const dir of [set, olderSet]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  const serveEnv = () => ({ DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir, PORT: '0', SLUICE_SETTLE_SECONDS: '0', SLUICE_LEASE_SECONDS: '1' });

  async function startServe() {
    const server = sluice(['serve'], serveEnv());
    let out = '';
    server.child.stdout!.on('data', (d) => (out += d));
    await until('serve to start', async () => out.includes('Drop upload sets'), 30_000);
    return server;
  }

  const seed = Number(process.env.SLUICE_KILL_SEED ?? Date.now() % 100_000);
  const next = random(seed);
  const killedIn: Record<'first' | 'rerun', Record<string, number>> = { first: {}, rerun: {} };

  async function trial(trial: number, kind: 'first' | 'rerun') {
    await setup();
    const feed = `${kind}${trial}`;
    const { before, after: reference, processingMs } = expected[kind];
    await addFeed(db(), feed, { settings: { holdFirstRun: false } });
    const feedId = (await db()('feeds').where({ slug: feed }).first('id')).id;
    // The run of the drop is the one after the older set's (re-run trials start from one).
    const olderRunId = kind === 'rerun' ? (await importFolder(env.ctx, feed, olderSet)).id : 0;
    const inbox = join(env.dataDir, 'inbox', feed);
    // Even trials are killed somewhere in validation, odd ones somewhere in apply: the random
    // point is measured from when the run entered that phase.
    const phase = trial % 2 === 0 ? 'validating' : 'applying';
    const delayMs = Math.round(next() * processingMs * (phase === 'validating' ? 0.5 : 0.3));
    const context = `seed ${seed} (SLUICE_KILL_SEED), ${kind} trial ${trial}, killed ${delayMs} ms into ${phase}`;

    // Each file lands whole, by a rename: `cp` into the inbox races the server, which claims the
    // file before cp sets its mode (ENOENT on chmod).
    const landing = await mkdtemp(join(env.dataDir, 'landing-'));
    for (const name of ['users.csv', 'control.json']) await cp(join(set, name), join(landing, name));
    const doomed = await startServe();
    try {
      for (const name of ['users.csv', 'control.json']) await rename(join(landing, name), join(inbox, name));
      const reached = phase === 'validating' ? ['validating', 'applying', 'applied'] : ['applying', 'applied'];
      for (let waited = 0; !(await db()('runs').where({ feed_id: feedId }).andWhere('id', '>', olderRunId).whereIn('state', reached).first('id')); waited += 10) {
        if (waited > 30_000) throw new Error(`${context}: the run never reached ${phase}`);
        await sleep(10);
      }
      await sleep(delayMs);
    } finally {
      // Also when the trial fails here: a server left running would go on processing the
      // next trials' drops and make their directories look half-applied.
      doomed.child.kill('SIGKILL');
      await doomed.done;
      await rm(landing, { recursive: true, force: true });
    }

    const run = await db()('runs').where({ feed_id: feedId }).andWhere('id', '>', olderRunId).orderBy('id', 'desc').first('state');
    const state = run?.state ?? 'not claimed yet';
    killedIn[kind][state] = (killedIn[kind][state] ?? 0) + 1;
    const now = await directorySnapshot(env.ctx, feed);
    if (before === null) {
      if (now.users.length > 0) expect(now, `${context}: half a run is visible`).toEqual(reference);
      else expect(now.memberships, context).toEqual([]);
    } else {
      expect([before, reference], `${context}: half a run is visible`).toContainEqual(now);
    }

    const recovering = await startServe();
    try {
      const runsBefore = kind === 'rerun' ? 1 : 0;
      await until(`${context}: the run to be applied after the restart`, async () => {
        const runs = await db()('runs').where({ feed_id: feedId }).orderBy('id').select('state');
        return runs.length === runsBefore + 1 && runs.every((r: { state: string }) => r.state === 'applied');
      }, 60_000 + 3 * processingMs);
    } finally {
      recovering.child.kill('SIGTERM');
      await recovering.done;
    }
    expect(await directorySnapshot(env.ctx, feed), context).toEqual(reference);
    expect(await readdir(inbox), `${context}: files left in the inbox`).toEqual([]);
  }

  it.each(Array.from({ length: TRIALS }, (_, i) => i))('trial %i: the directory is before or after the run, and the drop completes exactly once', (i) => trial(i, 'first'), SETUP_MS + TRIAL_MS);
  it.each(Array.from({ length: RERUN_TRIALS }, (_, i) => i))(
    're-run trial %i: onto an older directory, mostly unchanged records skipped; before or after, then exactly once',
    (i) => trial(i, 'rerun'),
    SETUP_MS + TRIAL_MS,
  );

  it('killed some trials while validating and some while applying', async () => {
    await setup();
    const ms = (kind: 'first' | 'rerun') => Math.round(expected[kind].processingMs);
    console.log(`kill trials on ${database.name} (seed ${seed}; processing ≈ ${ms('first')} ms, re-run ≈ ${ms('rerun')} ms):`, killedIn);
    expect(killedIn.first.validating ?? 0).toBeGreaterThan(0);
    expect(killedIn.first.applying ?? 0).toBeGreaterThan(0);
    // A re-run's apply takes tens of milliseconds: kills aimed at it often land after it.
    expect(killedIn.rerun.validating ?? 0).toBeGreaterThan(0);
  });
});

describe.skipIf(!testDatabases.some((d) => d.name === 'mysql'))('the database connection killed mid-apply on mysql', () => {
  it('is retried, and the run completes with the directory of an undisturbed run', async () => {
    const env = await openTestEnv(testDatabases.find((d) => d.name === 'mysql')!);
    const set = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-kill-conn-')), USERS);
    try {
      const db = env.ctx.database.knex;
      for (const feed of ['reference', 'victim']) await addFeed(db, feed, { settings: { holdFirstRun: false } });
      expect((await importFolder(env.ctx, 'reference', set)).state).toBe('applied');

      // From another session, kill whichever connection is writing memberships for the victim.
      const schema = new URL(env.url).pathname.slice(1);
      const killer = knexFactory({ client: 'mysql2', connection: env.url.replace(`/${schema}`, '/') + '' });
      let killed: number | null = null;
      const watching = (async () => {
        for (let i = 0; i < 3000 && killed === null; i++) {
          const [rows] = (await killer.raw("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'INSERT INTO directory_memberships%'", [schema])) as [{ ID: number }[]];
          if (rows[0]) {
            killed = Number(rows[0].ID);
            await killer.raw(`KILL CONNECTION ${killed}`);
          }
          await sleep(10);
        }
      })();
      const victim = await importFolder(env.ctx, 'victim', set);
      await watching;
      await killer.destroy();
      expect(killed, 'the apply was never caught writing memberships').not.toBeNull();
      expect(victim.state).toBe('applying');
      expect((await directorySnapshot(env.ctx, 'victim')).users).toEqual([]);

      // The failed attempt gave up its lease: the next pass of the queue applies the run again.
      await processQueue(env.ctx);
      const done = await getRun(db, victim.id);
      expect(done).toMatchObject({ state: 'applied', attempts: 1 });
      expect((await runEvents(db, victim.id)).map((e) => e.message)).toContainEqual(expect.stringMatching(/^processing stopped with an error \(attempt 1 of 3\): .*; trying again$/));
      expect(await directorySnapshot(env.ctx, 'victim')).toEqual(await directorySnapshot(env.ctx, 'reference'));
    } finally {
      await env.close();
      await rm(set, { recursive: true, force: true });
    }
  });
});
