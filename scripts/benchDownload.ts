/**
 * `npm run bench:download -- [--users 400000] [--db mysql|sqlite] [--data-dir DIR] [--reuse]`:
 * the change-set CSV download of a held first run of `users` users (one 'create' change each,
 * one CSV row per field), through the admin route of a started server: rows/s, seconds, and the
 * server process's RSS before, after and at its peak (sampled every 50 ms) during the download.
 * The download runs in its own process so the import before it does not count in its memory.
 * `--reuse` skips the import and downloads the newest run of the existing database (MySQL, or the
 * SQLite file in `--data-dir`), for before/after figures on the same data.
 */
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addAdmin } from '../src/admins/admins.service.js';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { addFeed } from '../src/feeds/feeds.service.js';
import { runFromFolder } from '../src/pipeline/intake.js';
import { processQueue } from '../src/pipeline/queue.js';
import { getRun } from '../src/runs/runs.service.js';
import { serve } from '../src/server/serve.js';
import { BENCH_ADMIN as ADMIN, benchDatabaseUrl, signIn } from './benchDatabase.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '400000' },
    db: { type: 'string', default: 'mysql' },
    'mysql-url': { type: 'string', default: 'mysql://root@127.0.0.1:3306/sluice_download_bench' },
    'data-dir': { type: 'string' },
    reuse: { type: 'boolean', default: false },
    measure: { type: 'string' }, // the run id, in the child that downloads
  },
});
process.env.LOG_LEVEL ??= 'warn';
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

if (values.measure) await measure(Number(values.measure));
else await main();

async function main() {
  const users = Number(values.users);
  const dataDir = values['data-dir'] ?? (await mkdtemp(join(tmpdir(), 'sluice-bench-download-')));
  await mkdir(dataDir, { recursive: true });
  const databaseUrl = values.reuse
    ? values.db === 'mysql' ? values['mysql-url']! : `sqlite:${join(dataDir, 'bench.sqlite')}`
    : await benchDatabaseUrl(values.db, values['mysql-url']!, dataDir, 'bench.sqlite');
  const env = { DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: dataDir };
  const ctx = await openContext(loadConfig({ ...env, LOG_LEVEL: 'warn' }));
  const db = ctx.database.knex;
  let runId: number;
  if (values.reuse) {
    runId = Number((await db('runs').max('id as id').first())!.id);
  } else {
    const feed = await addFeed(db, 'bench');
    await addAdmin(db, { email: ADMIN.email, role: 'admin', password: ADMIN.password, actor: 'bench' });
    const folder = join(dataDir, 'set');
    await mkdir(folder, { recursive: true });
    const lines = ['ID,EMAIL,FIRST,LAST'];
    for (let i = 0; i < users; i++) lines.push(`u${i},user${i}@example.org,First${i % 997},Last${i % 1009}`);
    await writeFile(join(folder, 'users.csv'), lines.join('\n') + '\n');
    const control = { version: 1, mode: 'full', files: { 'users.csv': { type: 'users' } }, users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST' } } };
    await writeFile(join(folder, 'control.json'), JSON.stringify(control));
    console.log(`importing ${users} users on ${values.db} (data in ${dataDir})`);
    const started = performance.now();
    runId = (await runFromFolder(ctx, feed, folder, { keepSource: false })).id;
    await processQueue(ctx, { feedId: feed.id });
    console.log(`imported in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const run = await getRun(db, runId);
  await ctx.database.close();
  // A feed's first run is held for review: its whole change set is what a reviewer downloads.
  console.log(`run ${run.id}: ${run.state}, ${run.counts.users.created} users created`);

  const child = fork(join(import.meta.dirname, 'benchDownload.js'), ['--measure', String(run.id)], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
  const result = await new Promise<Record<string, number | string>>((resolve, reject) => {
    child.on('message', (m) => resolve(m as Record<string, number | string>));
    child.on('exit', (code) => code !== 0 && reject(new Error(`the download process exited with ${code}`)));
  });
  console.log(`change-set CSV of ${run.counts.users.created} created users on ${values.db}`);
  console.table({ ...result, 'changes/s': Math.round(run.counts.users.created / Number(result.seconds)) });
}

/** In the child: start a server, sign in, download the run's change set and watch this process's RSS. */
async function measure(runId: number) {
  const server = await serve(loadConfig({ ...process.env, PORT: '0', SLUICE_JOBS: 'off' }));
  const cookie = await signIn(server.url);
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  let heapPeak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak = Math.max(peak, now.rss);
    heapPeak = Math.max(heapPeak, now.heapUsed);
  }, 50);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const response = await fetch(`${server.url}/admin/runs/${runId}/changes.csv`, { headers: { cookie } });
  if (response.status !== 200) throw new Error(`changes.csv answered ${response.status}`);
  let bytes = 0;
  let lines = 0;
  let head = '';
  for await (const chunk of response.body! as AsyncIterable<Uint8Array>) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (head.length < 200) head += buffer.toString('utf8', 0, Math.min(buffer.length, 200));
    bytes += buffer.length;
    for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const rssAfter = process.memoryUsage().rss;
  await server.stop();
  const rows = lines - 1; // the header
  (process.send?.bind(process) ?? console.log)({
    'first row': head.split('\r\n')[1] ?? '',
    rows,
    MB: mb(bytes),
    seconds: Number(seconds.toFixed(2)),
    'rows/s': Math.round(rows / seconds),
    // The machine may be shared: the process's own CPU time says what the download costs.
    'CPU s (server and client)': Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    'RSS before MB': mb(rssBefore),
    'RSS peak MB': mb(Math.max(peak, rssAfter)),
    'RSS after MB': mb(rssAfter),
    'heap used peak MB': mb(heapPeak),
    'maxRSS of the process MB': Math.round(process.resourceUsage().maxRSS / 1024),
  });
}
