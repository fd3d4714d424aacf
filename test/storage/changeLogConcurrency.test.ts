import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readChanges } from '../../src/directory/changeLog.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { sluice, type CliResult } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { until } from '../helpers/wait.js';

const USERS = 2000;
const PAGE = 500;

interface Change { runId: number; entity: string; entityKey: string; groupCode: string | null; operation: string }
const identity = (c: Change) => `${c.runId}|${c.entity}|${c.entityKey}|${c.groupCode ?? ''}|${c.operation}`;

async function succeeded(done: Promise<CliResult>) {
  const result = await done;
  if (result.code !== 0) throw new Error(`sluice import exited with ${result.code ?? result.signal}: ${result.stderr}${result.stdout}`);
}

/**
 * A downstream application reading the change log by the README's rule: remember the last
 * number processed, ask for what follows, again and again, while feeds apply.
 */
function startReader(env: TestEnv) {
  const seen: string[] = [];
  let last = 0;
  let caughtUp = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const page = await readChanges(env.ctx.database.knex, { after: last, limit: PAGE });
      seen.push(...page.changes.map(identity));
      last = page.last;
      if (page.changes.length < PAGE) caughtUp++;
      await setImmediate();
    }
  })();
  return {
    seen,
    /** Resolves once a read that started after this call has reached the end of the log. */
    async catchUp() {
      const target = caughtUp + 2;
      await until('the reader to reach the end of the change log', async () => caughtUp >= target);
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe.each(testDatabases)('the change log read by commit_seq while two feeds apply on $name', (database) => {
  let env: TestEnv;
  let work: string;
  let reader: ReturnType<typeof startReader> | undefined;
  const children: ChildProcess[] = [];
  const cli = (args: string[], extra: Record<string, string> = {}) => {
    const started = sluice(args, { DATABASE_URL: env.url, SLUICE_DATA_DIR: env.dataDir, ...extra });
    children.push(started.child);
    return started;
  };

  beforeEach(async () => {
    env = await openTestEnv(database);
    work = await mkdtemp(join(tmpdir(), 'sluice-changelog-'));
    for (const slug of ['fa', 'fb']) await addFeed(env.ctx.database.knex, slug, { settings: { holdFirstRun: false } });
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await reader?.stop().catch(() => {});
    await env?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** The table whose lock a transaction of this test's database waits for, if any. */
  async function lockWaitedFor(): Promise<string | undefined> {
    const [rows] = (await env.ctx.database.knex.raw(
      `SELECT l.lock_table AS locked FROM information_schema.INNODB_TRX t
         JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
         JOIN information_schema.INNODB_LOCKS l ON l.lock_id = t.trx_requested_lock_id
        WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`,
    )) as [{ locked: string }[]];
    return rows[0]?.locked;
  }

  it('sees every change exactly once, also of a transaction that commits after a later one wrote its changes', async () => {
    reader = startReader(env);
    const set = (name: string, variant: number) => writeBigSet(join(work, name), USERS, variant, 10);
    const [a1, b1, a2, b2] = await Promise.all([set('a1', 0), set('b1', 0), set('a2', 1), set('b2', 1)]);

    if (database.name === 'mysql') {
      // Two first runs at once: creates of users, groups and memberships in both feeds.
      await Promise.all([succeeded(cli(['import', a1, '--feed', 'fa']).done), succeeded(cli(['import', b1, '--feed', 'fb']).done)]);

      // Both second runs are staged and diffed before either applies (staging and change sets
      // go to shared tables, which an open apply transaction holds read locks on). Then fa
      // stops after writing its change log, before its commit, and fb applies. Paged by `seq`,
      // fb's rows would be read first and fa's lower numbers skipped once fa commits; here fb
      // waits for fa's hold on the change log.
      const bMarker = join(work, 'fb-paused');
      const b = cli(['import', b2, '--feed', 'fb'], { SLUICE_FAULT: 'pause:apply:start', SLUICE_FAULT_FILE: bMarker });
      await until('fb to be about to apply', async () => existsSync(bMarker), 120_000);
      const aMarker = join(work, 'fa-paused');
      const a = cli(['import', a2, '--feed', 'fa'], { SLUICE_FAULT: 'pause:apply:after-change-log', SLUICE_FAULT_FILE: aMarker });
      await until('fa to have written its change log', async () => existsSync(aMarker), 120_000);
      let bExited = false;
      void b.done.then(() => (bExited = true));
      await rm(bMarker);
      // Applies of different feeds wait for each other only for the change log and the commit.
      const counter = `\`${new URL(env.url).pathname.slice(1)}\`.\`directory_change_counter\``;
      await until('fb to wait for fa\'s change-log counter, or to finish', async () => bExited || (await lockWaitedFor()) === counter, 120_000);
      await reader.catchUp();
      await rm(aMarker);
      await Promise.all([succeeded(a.done), succeeded(b.done)]);
    } else {
      // SQLite has one writer at a time, and two processes that claim runs at the same moment
      // can fail with "database is locked" (a read transaction cannot become a writer while
      // another writes): the runs follow each other while the reader reads.
      for (const [folder, feed] of [[a1, 'fa'], [b1, 'fb'], [a2, 'fa'], [b2, 'fb']] as const) await succeeded(cli(['import', folder, '--feed', feed]).done);
    }
    await reader.catchUp();
    await reader.stop();
    // Every run applied at its first attempt: none waited out a lock of the other feed's rows
    // (a removal or a full-run pass that scans the whole table locks every feed's rows).
    expect(await env.ctx.database.knex('runs').orderBy('id').pluck('attempts')).toEqual([0, 0, 0, 0]);

    const table = (await env.ctx.database.knex('directory_changes').orderBy('commit_seq')) as Record<string, unknown>[];
    const all = table.map((r) => identity({ runId: Number(r.run_id), entity: String(r.entity), entityKey: String(r.entity_key), groupCode: r.group_code as string | null, operation: String(r.operation) }));
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThan(2 * 4 * USERS);
    expect(reader.seen.length).toBe(all.length);
    expect([...reader.seen].sort()).toEqual([...all].sort());
    // Dense: a rolled-back apply gives its numbers back.
    expect(table.map((r) => Number(r.commit_seq))).toEqual(table.map((_, i) => i + 1));
  }, 600_000);
});
