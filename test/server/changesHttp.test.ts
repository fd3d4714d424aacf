import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { sluice, type CliResult } from '../helpers/cli.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const USERS = 600;
const PAGE = 250;

async function succeeded(done: Promise<CliResult>) {
  const result = await done;
  if (result.code !== 0) throw new Error(`sluice import exited with ${result.code ?? result.signal}: ${result.stderr}${result.stdout}`);
}

describe.each(testDatabases)('paging the change log over HTTP while feeds apply on $name', (database) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  it('an application following `after` sees every change once, in commit order', async () => {
    const created = await database.create();
    cleanup.push(created.drop);
    const server = await startTestServer({ DATABASE_URL: created.url });
    cleanup.push(() => server.stop());
    const work = await mkdtemp(join(tmpdir(), 'sluice-changes-http-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const db = server.ctx.database.knex;
    for (const slug of ['fa', 'fb']) await addFeed(db, slug, { settings: { holdFirstRun: false } });
    const { token } = await createAppToken(db, { name: 'follower', feeds: ['fa', 'fb'], scope: 'read' });

    const seen: { commitSeq: number; runId: number; entity: string; entityKey: string; groupCode: string | null; operation: string }[] = [];
    let last = 0;
    let stopped = false;
    let caughtUp = 0;
    const reader = (async () => {
      while (!stopped) {
        const response = await fetch(`${server.url}/api/v1/changes?after=${last}&limit=${PAGE}`, { headers: { authorization: `Bearer ${token}` } });
        if (response.status !== 200) throw new Error(`GET /api/v1/changes answered ${response.status}: ${await response.text()}`);
        const page = (await response.json()) as { changes: typeof seen; last: number };
        seen.push(...page.changes);
        last = page.last;
        if (page.changes.length < PAGE) caughtUp++;
      }
    })();
    cleanup.push(async () => {
      stopped = true;
      await reader;
    });

    const env = { DATABASE_URL: created.url, SLUICE_DATA_DIR: server.dataDir };
    const sets = await Promise.all([0, 1, 2].map((variant) => writeBigSet(join(work, `v${variant}`), USERS, variant, 3)));
    for (const folder of sets) {
      if (database.name === 'mysql') {
        // Both feeds apply at the same time while the application reads.
        await Promise.all(['fa', 'fb'].map((feed) => succeeded(sluice(['import', folder, '--feed', feed, '--keep'], env).done)));
      } else {
        // SQLite has one writer: the feeds follow each other while the application reads.
        for (const feed of ['fa', 'fb']) await succeeded(sluice(['import', folder, '--feed', feed, '--keep'], env).done);
      }
    }
    const target = caughtUp + 2;
    await until('the application to reach the end of the change log', async () => caughtUp >= target, 60_000);
    stopped = true;
    await reader;

    const table = (await db('directory_changes').orderBy('commit_seq').select('commit_seq')) as { commit_seq: number }[];
    expect(table.length).toBeGreaterThan(2 * USERS * 2);
    expect(seen.map((c) => c.commitSeq)).toEqual(table.map((r) => Number(r.commit_seq)));
  }, 240_000);
});
