/**
 * `node dist/scripts/benchMemberships.js --rows N [--db mysql|sqlite]`: a feed whose groups come
 * from a memberships file (3 rows per user), imported three times — first import, no-change
 * re-run, 5 % of users changed (a membership each, every other one a field too) — each phase in
 * its own process (benchPhase) so its peak RSS is its own.
 */
import { fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { addFeed, setFeedSetting } from '../src/feeds/feeds.service.js';
import { benchDatabaseUrl } from './benchDatabase.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    db: { type: 'string', default: 'mysql' },
    'mysql-url': { type: 'string', default: 'mysql://root@127.0.0.1:3306/sluice_members_bench' },
    keep: { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);

async function writeLines(path: string, header: string, line: (i: number) => string) {
  const out = createWriteStream(path);
  out.write(header + '\n');
  for (let i = 0; i < rows; i++) if (!out.write(line(i))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

const control = {
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users' }, 'memberships.csv': { type: 'memberships' } },
  users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST', jobTitle: 'JOB', company: 'COMPANY', 'custom.department': 'DEPT' } },
  memberships: { fields: { user: 'USER', group: 'GROUP' } },
};

async function makeSet(dir: string, churn: boolean) {
  await mkdir(dir, { recursive: true });
  const changed = (i: number) => churn && i % 20 === 0;
  await writeLines(join(dir, 'users.csv'), 'ID,EMAIL,FIRST,LAST,JOB,COMPANY,DEPT', (i) =>
    `u${i},user${i}@example.org,First${i % 997},Last${i % 1009},${changed(i) && i % 40 === 0 ? 'Senior ' : ''}Engineer ${i % 7},Company ${i % 113},Dept ${i % 17}\n`,
  );
  await writeLines(join(dir, 'memberships.csv'), 'USER,GROUP', (i) => `u${i},g${i % 100}\nu${i},h${i % 37}\nu${i},k${changed(i) ? (i + 1) % 11 : i % 11}\n`);
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

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'sluice-members-bench-'));
  const databaseUrl = await benchDatabaseUrl(values.db, values['mysql-url']!, work, 'bench.sqlite');
  const env = { DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: join(work, 'data') };
  const ctx = await openContext(loadConfig({ DATABASE_URL: databaseUrl, SLUICE_DATA_DIR: env.SLUICE_DATA_DIR }));
  await addFeed(ctx.database.knex, 'bench');
  for (const [k, v] of [['holdFirstRun', 'false'], ['holdOnMappingChange', 'false']]) await setFeedSetting(ctx.database.knex, 'bench', k!, v!);
  await ctx.database.close();

  console.log(`generating ${rows} users and ${rows * 3} memberships rows in ${work}`);
  const phases: [string, string][] = [
    ['first import', await makeSet(join(work, 'first'), false)],
    ['no-change re-run', await makeSet(join(work, 'same'), false)],
    ['5 % changed', await makeSet(join(work, 'changed'), true)],
  ];
  const table: Record<string, string | number>[] = [];
  for (const [name, folder] of phases) {
    const result = await runPhase(env, folder);
    console.log(`${name}: ${result.state}, ${result.timings}, ${JSON.stringify(result.counts)}`);
    table.push({ phase: name, state: result.state, seconds: Number((result.ms / 1000).toFixed(2)), 'peak RSS MB': Math.round(result.maxRssMb) });
  }
  console.log(`\n${rows} users, ${rows * 3} memberships rows on ${values.db}`);
  console.table(table);
  if (!values.keep) {
    await rm(work, { recursive: true, force: true });
    if (values.db === 'mysql') {
      const url = new URL(databaseUrl);
      const admin = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: url.username, password: url.password });
      await admin.query(`DROP DATABASE IF EXISTS \`${url.pathname.slice(1)}\``);
      await admin.end();
    }
  }
}

await main();
