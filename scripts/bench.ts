/**
 * `npm run bench -- --rows N [--db mysql|sqlite]`: a synthetic feed (10 columns, 3 groups per
 * user), imported three times — first import, no-change re-run, 5 % changed — each phase in its
 * own process so its peak RSS is its own. On MySQL/MariaDB the same users file is also loaded
 * with LOAD DATA LOCAL INFILE into a same-shaped table, and each phase is compared to it.
 */
import { fork } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { addFeed, setFeedSetting } from '../src/feeds/feeds.service.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, db: { type: 'string', default: 'mysql' }, 'mysql-url': { type: 'string', default: 'mysql://root@127.0.0.1:3306/sluice_bench' } },
});
const rows = Number(values.rows);
const columns = ['ID', 'EMAIL', 'FIRST', 'LAST', 'TITLE', 'JOB', 'COMPANY', 'COUNTRY', 'DEPT', 'GROUPS'];

async function writeUsers(path: string, changedEvery: number | null) {
  const out = createWriteStream(path);
  out.write(columns.join(',') + '\n');
  for (let i = 0; i < rows; i++) {
    const job = changedEvery !== null && i % changedEvery === 0 ? `Senior Engineer ${i % 7}` : `Engineer ${i % 7}`;
    const line = `u${i},user${i}@example.org,First${i % 997},Last${i % 1009},Dr,${job},Company ${i % 113},NL,Dept ${i % 17},g${i % 100};h${i % 37};k${i % 11}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const control = {
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users' } },
  users: {
    key: 'username',
    fields: {
      username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST', title: 'TITLE', jobTitle: 'JOB',
      company: 'COMPANY', country: 'COUNTRY', 'custom.department': 'DEPT', groups: { column: 'GROUPS', split: ';' },
    },
  },
};

async function makeSet(dir: string, changedEvery: number | null) {
  await mkdir(dir, { recursive: true });
  await writeUsers(join(dir, 'users.csv'), changedEvery);
  await writeFile(join(dir, 'control.json'), JSON.stringify(control));
  return dir;
}

interface PhaseResult { ms: number; maxRssMb: number; state: string; counts: unknown; timings: string }

function runPhase(env: Record<string, string>, folder: string): Promise<PhaseResult> {
  const child = fork(join(import.meta.dirname, 'benchPhase.js'), [folder], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
  return new Promise((resolve, reject) => {
    child.on('message', (m) => resolve(m as PhaseResult));
    child.on('exit', (code) => code !== 0 && reject(new Error(`phase exited with ${code}`)));
  });
}

async function loadDataSeconds(url: string, file: string): Promise<number> {
  const conn = await mysql.createConnection({ uri: url, infileStreamFactory: (path: string) => createReadStream(path) } as never);
  await conn.query('DROP TABLE IF EXISTS bench_load_data');
  await conn.query(`CREATE TABLE bench_load_data (row_id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, ${columns.map((c) => `${c} VARCHAR(255)`).join(', ')}, UNIQUE KEY (ID)) CHARACTER SET utf8mb4`);
  const started = performance.now();
  await conn.query({ sql: `LOAD DATA LOCAL INFILE ? INTO TABLE bench_load_data FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' IGNORE 1 LINES (${columns.join(', ')})`, values: [file] });
  const seconds = (performance.now() - started) / 1000;
  await conn.query('DROP TABLE bench_load_data');
  await conn.end();
  return seconds;
}

/** The server and its buffer pool, which decides whether a large directory is I/O-bound. */
async function serverDescription(url: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: url });
  const [rows] = (await conn.query('SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool')) as unknown as [{ version: string; pool: number | string }[]];
  await conn.end();
  return ` (${rows[0]!.version}, buffer pool ${Math.round(Number(rows[0]!.pool) / 2 ** 20)} MB)`;
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  let databaseUrl = `sqlite:${join(work, 'bench.sqlite')}`;
  if (values.db === 'mysql') {
    const url = new URL(values['mysql-url']!);
    const name = url.pathname.slice(1);
    const admin = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: url.username, password: url.password });
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    await admin.end();
    databaseUrl = url.toString();
  }
  const env = { DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: join(work, 'data') };
  const ctx = await openContext(loadConfig({ DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: env.SLUICE_DATA_DIR }));
  await addFeed(ctx.database.knex, 'bench');
  for (const [k, v] of [['holdFirstRun', 'false'], ['holdOnMappingChange', 'false']]) await setFeedSetting(ctx.database.knex, 'bench', k!, v!);
  await ctx.database.close();

  console.log(`generating ${rows} users (10 columns, 3 groups each) in ${work}`);
  const first = await makeSet(join(work, 'first'), null);
  const same = await makeSet(join(work, 'same'), null);
  const changed = await makeSet(join(work, 'changed'), 20);
  const loadData = values.db === 'mysql' ? await loadDataSeconds(databaseUrl, join(first, 'users.csv')) : null;
  const server = values.db === 'mysql' ? await serverDescription(databaseUrl) : '';

  const phases: [string, string][] = [['first import', first], ['no-change re-run', same], ['5 % changed', changed]];
  const table: Record<string, string | number>[] = [];
  for (const [name, folder] of phases) {
    const result = await runPhase(env, folder);
    const seconds = result.ms / 1000;
    console.log(`${name}: ${result.state}, ${result.timings}`);
    table.push({
      phase: name,
      state: result.state,
      seconds: Number(seconds.toFixed(2)),
      'rows/s': Math.round(rows / seconds),
      'peak RSS MB': Number(result.maxRssMb.toFixed(0)),
      ...(loadData !== null && { 'x LOAD DATA': Number((seconds / loadData).toFixed(2)) }),
    });
  }
  console.log(`\n${rows} rows on ${values.db}${server}${loadData !== null ? `; LOAD DATA LOCAL INFILE of the users file: ${loadData.toFixed(2)} s` : ''}`);
  console.table(table);
  await rm(work, { recursive: true, force: true });
}

await main();
