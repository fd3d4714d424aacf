/**
 * `npm run bench:serve -- [--db sqlite|mysql] [--rows 200000] [--idle-seconds 60] [--root DIR]`:
 * what `sluice serve` costs and how it answers, measured on a real server process in one run:
 * - its CPU time while idle (one minute, three feeds);
 * - the time from a control file landing (the upload API's answer) to the run `validating`;
 * - p50/p95 of the run page and of the upload API while a run of `rows` users is processed, and
 *   of a request that needs no database (the event loop alone).
 * `--root` runs another build of Sluice (a checkout with its `dist/`), for before/after figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { BENCH_ADMIN, benchDatabaseUrl, signIn } from './benchDatabase.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    rows: { type: 'string', default: '200000' },
    'idle-seconds': { type: 'string', default: '60' },
    root: { type: 'string', default: packageRoot },
    'mysql-url': { type: 'string', default: 'mysql://root@127.0.0.1:3306/sluice_bench_serve' },
  },
});
const root = resolve(values.root!);
const rows = Number(values.rows);
const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-serve-'));
const databaseUrl = await benchDatabaseUrl(values.db, values['mysql-url']!, dataDir, 'sluice.sqlite');
const env = { ...process.env, DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PORT: '0', SLUICE_SETTLE_SECONDS: '1' };

function cli(args: string[], input?: string): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'sluice.js'), ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end(input ?? '');
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`sluice ${args.join(' ')} exited ${code}`))));
  });
}

await cli(['migrate']);
for (const feed of ['big', 'quick', 'web']) await cli(['feed', 'add', feed]);
// The big run is applied, not held as a feed's first run is.
for (const feed of ['big', 'quick']) await cli(['feed', 'set', feed, 'holdFirstRun', 'false']);
const keys: Record<string, string> = {};
for (const feed of ['big', 'quick', 'web']) keys[feed] = (await cli(['key', 'create', feed])).split('\n')[0]!.trim();
await cli(['admin', 'add', BENCH_ADMIN.email, '--role', 'admin', '--password-stdin'], `${BENCH_ADMIN.password}\n`);

const server: ChildProcess = spawn(process.execPath, [join(root, 'bin', 'sluice.js'), 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((done) => {
  let out = '';
  server.stdout!.on('data', (d) => {
    out += d;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) done(m[1]!);
  });
});
const cpuMs = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in clock ticks of 10 ms
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const results: Record<string, string | number> = { root, database: values.db!, rows };
// Made before measuring: building it takes long enough for the server to close an idle socket.
const big = bigSet(rows);

try {
  // 1. Idle: after start-up has settled.
  await sleep(10_000);
  const idleSeconds = Number(values['idle-seconds']);
  const before = cpuMs();
  await sleep(idleSeconds * 1000);
  results['idle CPU ms per minute'] = Math.round(((cpuMs() - before) * 60) / idleSeconds);

  const put = async (feed: string, name: string, body: string | Buffer) => {
    const response = await fetch(`${url}/api/v1/feeds/${feed}/files/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${keys[feed]}` }, body: typeof body === 'string' ? body : new Uint8Array(body) });
    const answer = (await response.json()) as { run: { id: number } };
    if (!response.ok) throw new Error(`PUT ${name}: ${response.status} ${JSON.stringify(answer)}`);
    return answer.run.id;
  };
  const runDoc = async (id: number, feed = 'big') =>
    (await (await fetch(`${url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${keys[feed]}` } })).json()) as { state: string; worker?: { progress?: { rows: number } | null } };

  // 2. Control file landing -> validating, five times.
  const small = bigSet(50);
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    await put('quick', 'users.csv', small.users);
    const id = await put('quick', 'control.json', small.control);
    const landed = performance.now();
    for (;;) {
      const { state } = await runDoc(id, 'quick');
      if (state !== 'queued' && state !== 'receiving') break;
      await sleep(5);
    }
    latencies.push(performance.now() - landed);
    await sleep(300 + Math.random() * 1700); // land at different points of any poll
  }
  latencies.sort((a, b) => a - b);
  results['landing -> validating ms (median of 5)'] = Math.round(latencies[2]!);
  results['landing -> validating ms (max of 5)'] = Math.round(latencies[4]!);

  // 3. A big run, and the run page and upload API meanwhile.
  const cookie = await signIn(url);
  await put('big', 'users.csv', big.users);
  const id = await put('big', 'control.json', big.control);
  const started = performance.now();
  const page: number[] = [];
  const upload: number[] = [];
  const loop: number[] = [];
  const progressRows = new Set<number>();
  const uploadBody = bigSet(20).users;
  let uploadErrors = 0;
  for (;;) {
    const doc = await runDoc(id);
    if (doc.worker?.progress) progressRows.add(doc.worker.progress.rows);
    if (!['receiving', 'queued', 'validating', 'applying'].includes(doc.state)) {
      results['big run ended'] = doc.state;
      break;
    }
    let t = performance.now();
    const response = await fetch(`${url}/admin/runs/${id}`, { headers: { cookie } });
    await response.text();
    if (response.status !== 200) throw new Error(`run page answered ${response.status}`);
    page.push(performance.now() - t);
    // A document made without the database: its time is the HTTP server's event loop alone.
    t = performance.now();
    await (await fetch(`${url}/api/v1/openapi.json`)).text();
    loop.push(performance.now() - t);
    t = performance.now();
    await put('web', 'users.csv', uploadBody).catch(() => uploadErrors++);
    upload.push(performance.now() - t);
    await sleep(100);
  }
  results['big run s'] = Number(((performance.now() - started) / 1000).toFixed(1));
  results['distinct progress row counts seen'] = progressRows.size;
  const pct = (xs: number[], p: number) => Number([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!.toFixed(1));
  Object.assign(results, {
    'run page p50 ms': pct(page, 50),
    'run page p95 ms': pct(page, 95),
    'upload API p50 ms': pct(upload, 50),
    'upload API p95 ms': pct(upload, 95),
    'upload API errors': uploadErrors,
    'no-database request p50 ms': pct(loop, 50),
    'no-database request p95 ms': pct(loop, 95),
    samples: page.length,
  });
} finally {
  server.kill('SIGTERM');
}
console.table(results);

function bigSet(users: number) {
  const lines = ['id,email,first,last,groups'];
  for (let i = 0; i < users; i++) lines.push(`u${i},user${i}@example.org,First${i % 997},Last${i % 1009},g${i % 50};h${i % 7}`);
  const control = JSON.stringify({
    version: 1,
    mode: 'full',
    files: { 'users.csv': { type: 'users' } },
    users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', groups: { column: 'groups', split: ';' } } },
  });
  return { users: Buffer.from(lines.join('\n') + '\n'), control };
}
