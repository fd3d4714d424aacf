import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { openContext } from '../../src/context.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { receiveFile } from '../../src/pipeline/receiving.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun } from '../../src/runs/runActions.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollAllS3Inboxes, s3Client } from '../../src/channels/s3Inbox.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { runFiles, listRuns } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { loadConfig } from '../../src/config.js';
import { samples } from '../helpers/uploads.js';
import { startS3rver } from '../helpers/s3rver.js';

describe('S3 inbox (s3rver)', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let endpoint: string;
  let env: TestEnv;

  beforeAll(async () => {
    s3 = await startS3rver(['drops', 'archive']);
    endpoint = s3.endpoint;
    env = await openTestEnv(testDatabases[0]!);
    Object.assign(env.ctx.config, loadConfig({ S3_INBOX_URL: 's3://drops/inbox/', S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }));
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    await addFeed(env.ctx.database.knex, 'hr');
  });
  afterAll(async () => {
    await s3?.stop();
    await env?.close();
  });

  it('finds a set beyond the first listing page, archives it byte for byte, then empties the inbox', async () => {
    const client = s3Client(env.ctx.config.s3);
    const put = (key: string, body: Buffer | string) => client.send(new PutObjectCommand({ Bucket: 'drops', Key: key, Body: body }));
    // 1 100 uploads in progress (temporary names) sort before the set: it is on the second page.
    for (let i = 0; i < 1100; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => put(`inbox/hr/aaa-${String(i + j).padStart(4, '0')}.part`, 'partial')));
    }
    const originals: Record<string, Buffer> = {};
    for (const name of ['people.csv', 'groups.csv', 'memberships.csv', 'control.json']) {
      originals[name] = await readFile(join(samples, 'basic', name));
      await put(`inbox/hr/${name}`, originals[name]!);
    }
    await pollAllS3Inboxes(env.ctx);

    const [run] = await listRuns(env.ctx.database.knex);
    expect(run).toMatchObject({ state: 'queued', channel: 's3' });
    const files = await runFiles(env.ctx.database.knex, run!.id);
    for (const file of files) {
      const archived = await readFile(join(env.dataDir, 'archive', file.storageKey));
      expect(archived.equals(originals[file.name]!)).toBe(true);
      expect(file.sha256).toBe(createHash('sha256').update(originals[file.name]!).digest('hex'));
    }
    const left = await client.send(new ListObjectsV2Command({ Bucket: 'drops', Prefix: 'inbox/hr/', StartAfter: 'inbox/hr/aaa-1099.part' }));
    expect(left.Contents ?? []).toEqual([]);
    await pollAllS3Inboxes(env.ctx);
    expect((await listRuns(env.ctx.database.knex)).length).toBe(1);
    client.destroy();
  });

  it('keeps the run archive in a bucket with ARCHIVE_URL, and runs from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-s3-archive-'));
    const ctx = await openContext(
      loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, SLUICE_DATA_DIR: dir, ARCHIVE_URL: 's3://archive/runs/', S3_ENDPOINT: endpoint }),
    );
    try {
      const feed = await addFeed(ctx.database.knex, 'hr');
      const run = await runFromFolder(ctx, feed, join(samples, 'basic'), { keepSource: true });
      await processQueue(ctx);
      expect((await approveRun(ctx, run.id)).state).toBe('applied');
      expect(await ctx.database.knex('directory_users').count({ n: '*' })).toEqual([{ n: 150 }]);
      expect((await ctx.archive.list(`hr/${run.id}/`)).sort()).toEqual(['control.json', 'groups.csv', 'memberships.csv', 'people.csv']);
      const client = s3Client(ctx.config.s3);
      const object = await client.send(new GetObjectCommand({ Bucket: 'archive', Key: `runs/hr/${run.id}/people.csv` }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(await readFile(join(samples, 'basic', 'people.csv')))).toBe(true);
      client.destroy();
    } finally {
      await ctx.database.close();
    }
  });

  it('puts a received file into the open set only once complete, with nothing left under .incoming, with ARCHIVE_URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-s3-incoming-'));
    const ctx = await openContext(
      loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, SLUICE_DATA_DIR: dir, ARCHIVE_URL: 's3://archive/incoming-test/', S3_ENDPOINT: endpoint }),
    );
    try {
      const feed = await addFeed(ctx.database.knex, 'hr');
      const bytes = await readFile(join(samples, 'basic', 'people.csv'));
      const { run, stored } = await receiveFile(ctx, feed, 'http', 'people.csv', { stream: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]) });
      expect(stored!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      const [file] = await runFiles(ctx.database.knex, run.id);
      expect((await buffer(ctx.archive.read(file!.storageKey))).equals(bytes)).toBe(true);
      const client = s3Client(ctx.config.s3);
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'incoming-test/' }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([`incoming-test/hr/${run.id}/people.csv`]);
      client.destroy();
    } finally {
      await ctx.database.close();
    }
  });
});
