/**
 * `npm run bench:admin -- [--runs 10000] [--db mysql|sqlite]`: answer times of the admin pages
 * an operator uses most, with that many runs in the database: p50 and p95 over 300 requests each.
 */
import { parseArgs } from 'node:util';
import { addAdmin } from '../src/admins/admins.service.js';
import { loadConfig } from '../src/config.js';
import { addFeed } from '../src/feeds/feeds.service.js';
import { serve } from '../src/server/serve.js';
import { toDbTime } from '../src/storage/dialect.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDatabaseUrl } from './benchDatabase.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '10000' }, db: { type: 'string', default: 'mysql' }, 'mysql-url': { type: 'string', default: 'mysql://root@127.0.0.1:3306/sluice_bench_admin' } },
});
const runCount = Number(values.runs);
const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-admin-'));
const databaseUrl = await benchDatabaseUrl(values.db, values['mysql-url']!, dataDir, 'bench.sqlite');
process.env.LOG_LEVEL = 'warn';
const server = await serve(loadConfig({ DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: dataDir, PORT: '0', SLUICE_JOBS: 'off' }));
const db = server.ctx.database.knex;
const feeds: number[] = [];
for (let f = 0; f < 10; f++) feeds.push((await addFeed(db, `feed${f}`)).id);
const counts = JSON.stringify({ users: { created: 5, updated: 3, suspended: 1, reactivated: 0, deleted: 0, unchanged: 100 }, groups: { created: 0, updated: 0 }, memberships: { added: 2, removed: 1 } });
const now = toDbTime();
for (let i = 0; i < runCount; i += 400) {
  await db('runs').insert(
    Array.from({ length: Math.min(400, runCount - i) }, (_, j) => ({
      feed_id: feeds[(i + j) % feeds.length],
      state: (i + j) % 50 === 0 ? 'held' : (i + j) % 17 === 0 ? 'failed' : 'applied',
      channel: 'http',
      counts,
      hold_reasons: '[]',
      row_count: 109,
      created_at: now,
      updated_at: now,
      finished_at: now,
    })),
  );
}
await addAdmin(db, { email: 'bench@example.org', role: 'admin', password: 'benchmark password', actor: 'bench' });

const cookies: string[] = [];
const signInPage = await fetch(`${server.url}/admin/sign-in`);
cookies.push(...signInPage.headers.getSetCookie().map((c) => c.split(';')[0]!));
const token = /name="_csrf" value="([^"]+)"/.exec(await signInPage.text())![1]!;
const signedIn = await fetch(`${server.url}/admin/sign-in`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.join('; ') },
  body: new URLSearchParams({ _csrf: token, email: 'bench@example.org', password: 'benchmark password' }).toString(),
});
cookies.push(...signedIn.headers.getSetCookie().map((c) => c.split(';')[0]!));

const rows: Record<string, string | number>[] = [];
for (const path of ['/admin/runs', '/admin/runs?state=held', '/admin/runs?feed=feed3&page=5', `/admin/runs?page=${Math.floor(runCount / 50 / 2)}`, '/admin', `/admin/runs/${Math.floor(runCount / 2)}`]) {
  const times: number[] = [];
  for (let k = 0; k < 300; k++) {
    const started = performance.now();
    const response = await fetch(server.url + path, { headers: { cookie: cookies.join('; ') } });
    await response.text();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  rows.push({ page: path, 'p50 ms': Number(times[150]!.toFixed(1)), 'p95 ms': Number(times[285]!.toFixed(1)), 'max ms': Number(times[299]!.toFixed(1)) });
}
console.log(`${runCount} runs on ${values.db}`);
console.table(rows);
await server.stop();
await rm(dataDir, { recursive: true, force: true });
