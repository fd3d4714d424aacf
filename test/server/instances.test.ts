import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../src/channels/s3Inbox.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { sluice } from '../helpers/cli.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startSmtpServer, type SmtpTestServer } from '../helpers/smtp.js';
import { usersControl, usersCsv } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const FOLDER_FEEDS = 5;
const SETS_PER_FOLDER_FEED = 5;
const S3_FEEDS = 25;

/** Set `k` of a feed: four users, one of them renamed in each set, so every set changes something. */
const setFiles = (feed: string, k: number) => ({
  'users.csv': usersCsv([
    ['a', 'a@example.org', `Ann${k}`, 'Lee', 'staff'],
    ['b', 'b@example.org', 'Bob', 'Ray', 'staff;lab'],
    ['c', 'c@example.org', 'Cy', 'Fox'],
    [`n${k}`, `n${k}@example.org`, 'New', 'Comer', 'lab'],
  ]),
  'control.json': JSON.stringify(usersControl({ feed })),
});

describe.skipIf(!testDatabases.some((d) => d.name === 'mysql'))('three sluice serve processes on one MariaDB, one folder inbox and one S3 inbox', () => {
  let env: TestEnv;
  let smtp: SmtpTestServer;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const servers: ReturnType<typeof sluice>[] = [];

  beforeAll(async () => {
    env = await openTestEnv(testDatabases.find((d) => d.name === 'mysql')!);
    smtp = await startSmtpServer();
    s3 = await startS3rver(['drops']);
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  });
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.done));
    await env?.close();
    await smtp?.stop();
    await s3?.stop();
  });

  it('applies each of 50 upload sets exactly once, reports each once, and runs each job tick once', async () => {
    const db = env.ctx.database.knex;
    const folderFeeds = Array.from({ length: FOLDER_FEEDS }, (_, i) => `folder${i}`);
    const s3Feeds = Array.from({ length: S3_FEEDS }, (_, i) => `bucket${i}`);
    for (const feed of [...folderFeeds, ...s3Feeds]) await addFeed(db, feed, { settings: { holdFirstRun: false, reportEmails: ['ops@example.org'], reportOn: ['applied'] } });

    const serverEnv = {
      DATABASE_URL: env.url,
      SLUICE_DATA_DIR: env.dataDir,
      PORT: '0',
      SLUICE_SETTLE_SECONDS: '0',
      SMTP_URL: smtp.url,
      S3_INBOX_URL: 's3://drops/inbox/',
      ...s3.env,
    };
    for (let i = 0; i < 3; i++) {
      const server = sluice(['serve'], serverEnv);
      let out = '';
      server.child.stdout!.on('data', (d) => (out += d));
      servers.push(server);
      await until(`server ${i} to start`, async () => out.includes('Drop upload sets'), 30_000);
    }

    // 25 sets land in the bucket at once, one per feed.
    const client = s3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    for (const feed of s3Feeds) {
      const files = setFiles(feed, 0);
      await client.send(new PutObjectCommand({ Bucket: 'drops', Key: `inbox/${feed}/users.csv`, Body: files['users.csv'] }));
      await client.send(new PutObjectCommand({ Bucket: 'drops', Key: `inbox/${feed}/control.json`, Body: files['control.json'] }));
    }
    // 25 sets through the folder: five feeds, each receiving five sets one after the other.
    const appliedRuns = async (feed: string) =>
      Number(((await db('runs as r').join('feeds as f', 'f.id', 'r.feed_id').where({ 'f.slug': feed, 'r.state': 'applied' }).count({ n: '*' })) as { n: number }[])[0]!.n);
    await Promise.all(
      folderFeeds.map(async (feed) => {
        for (let k = 0; k < SETS_PER_FOLDER_FEED; k++) {
          const files = setFiles(feed, k);
          // Each file lands whole, as an uploader renames it into place: with settling off, a
          // file written in the inbox itself may be claimed half-written.
          const inbox = join(env.dataDir, 'inbox', feed);
          for (const name of ['users.csv', 'control.json'] as const) {
            await writeFile(join(inbox, `${name}.part`), files[name]);
            await rename(join(inbox, `${name}.part`), join(inbox, name));
          }
          await until(`set ${k} of ${feed} to be applied`, async () => (await appliedRuns(feed)) === k + 1, 60_000).catch(async (error: Error) => {
            // Say where the set stopped, not only that it did not arrive.
            const runs = await db('runs as r').join('feeds as f', 'f.id', 'r.feed_id').where({ 'f.slug': feed }).orderBy('r.id').select('r.id', 'r.state');
            const events = await db('run_events').whereIn('run_id', runs.map((r: { id: number }) => r.id)).orderBy('id').select('run_id', 'message');
            throw new Error(`${error.message}; runs of ${feed}: ${JSON.stringify(runs)}; events: ${JSON.stringify(events.slice(-12))}`);
          });
        }
      }),
    );
    await until('every S3 set to be applied', async () => (await Promise.all(s3Feeds.map(appliedRuns))).every((n) => n === 1), 90_000);

    const runs = (await db('runs').select('id', 'state', 'counts')) as { id: number; state: string; counts: string }[];
    expect(runs).toHaveLength(50);
    expect(runs.every((r) => r.state === 'applied')).toBe(true);
    // Applied exactly once: one move to applied each, and the change log holds each change once.
    const appliedEvents = (await db('run_events').where({ state: 'applied' }).groupBy('run_id').select('run_id').count({ n: '*' })) as { run_id: number; n: number }[];
    expect(appliedEvents.map((e) => Number(e.n))).toEqual(Array(50).fill(1));
    for (const run of runs) {
      const c = JSON.parse(run.counts) as { users: Record<string, number>; groups: Record<string, number>; memberships: Record<string, number> };
      const expected = c.users.created! + c.users.updated! + c.users.suspended! + c.users.reactivated! + c.users.deleted! + c.groups.created! + c.groups.updated! + c.memberships.added! + c.memberships.removed!;
      const [logged] = (await db('directory_changes').where({ run_id: run.id }).count({ n: '*' })) as { n: number }[];
      expect(Number(logged!.n), `run ${run.id}`).toBe(expected);
    }

    // Each report once.
    await until('every report to be sent', async () => smtp.received.length >= 50, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // a full mail tick more: nothing else arrives
    const reportedRuns = smtp.received.map((m) => m.headers.find((h) => h.key === 'x-sluice-run')?.value);
    expect(reportedRuns).toHaveLength(50);
    expect(new Set(reportedRuns).size).toBe(50);

    // Each tick of each leased job ran in one process only.
    const ticks = (await db('job_ticks').select('name', 'tick', 'owner')) as { name: string; tick: number; owner: string }[];
    expect(ticks.some((t) => t.name === 'poll-s3')).toBe(true);
    const seen = new Map<string, string>();
    for (const t of ticks) {
      const key = `${t.name}#${t.tick}`;
      expect(seen.has(key), `${key} ran in ${seen.get(key)} and in ${t.owner}`).toBe(false);
      seen.set(key, t.owner);
    }
    console.log(`job ticks: ${ticks.length}, run by ${new Set(ticks.map((t) => t.owner)).size} processes`);
  });
});
