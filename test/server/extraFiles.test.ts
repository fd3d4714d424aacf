import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollS3Inbox, s3Client } from '../../src/channels/s3Inbox.js';
import { loadConfig } from '../../src/config.js';
import { addFeed, type Feed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { getRun, runErrors, runFiles, type Run } from '../../src/runs/runs.service.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const basic = join(samples, 'basic');
const setNames = ['people.csv', 'groups.csv', 'memberships.csv', 'control.json'];
const EXTRA = 'notes.txt';

/**
 * One upload set — the sample set plus a file its control file does not name — delivered
 * through the folder, S3 and HTTP must end the same way: the set fails naming the extra file,
 * which is archived with the run (downloadable), and nothing is left in any inbox.
 */
describe('a file the control file does not name', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const feeds: Record<string, Feed> = {};
  beforeAll(async () => {
    s3 = await startS3rver(['drops']);
    server = await startTestServer({ ...s3.env }, { rescanMs: 200 });
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    Object.assign(server.ctx.config, loadConfig({ SLUICE_DATA_DIR: server.dataDir, ...s3.env }));
    for (const slug of ['viafolder', 'vias3', 'viahttp']) feeds[slug] = await addFeed(server.ctx.database.knex, slug);
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  async function outcome(runId: number): Promise<{ run: Run; files: string[]; extraProblems: string[]; archivedExtra: string }> {
    await processQueue(server.ctx);
    const db = server.ctx.database.knex;
    const run = await getRun(db, runId);
    const stored = await runFiles(db, runId);
    const files = stored.map((f) => f.name).sort();
    const extraProblems = (await runErrors(db, runId)).filter((e) => e.file === EXTRA).map((e) => e.code);
    const extra = stored.find((f) => f.name === EXTRA);
    const archivedExtra = extra ? (await buffer(server.ctx.archive.read(extra.storageKey))).toString('utf8') : '';
    return { run, files, extraProblems, archivedExtra };
  }

  const expected = (state: string) => ({ state, files: [...setNames, EXTRA].sort(), extraProblems: ['file_extra'], archivedExtra: 'not part of the export\n' });
  const summary = (o: Awaited<ReturnType<typeof outcome>>) => ({ state: o.run.state, files: o.files, extraProblems: o.extraProblems, archivedExtra: o.archivedExtra });

  it('fails the set through the folder, with the extra file archived and the inbox empty', async () => {
    const folder = join(server.dataDir, 'inbox', 'viafolder');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, EXTRA), 'not part of the export\n');
    await cp(basic, folder, { recursive: true });
    const db = server.ctx.database.knex;
    const run = await until('the folder set to be queued', async () => db('runs').where({ feed_id: feeds.viafolder!.id, state: 'queued' }).first('id'));
    expect(summary(await outcome(Number(run.id)))).toEqual(expected('failed'));
    await until('the inbox folder to be empty', async () => (await readdir(folder)).length === 0);
  });

  it('fails the set through S3, with the extra object archived and the prefix empty', async () => {
    const client = s3Client(server.ctx.config.s3);
    await client.send(new PutObjectCommand({ Bucket: 'drops', Key: `inbox/vias3/${EXTRA}`, Body: 'not part of the export\n' }));
    for (const name of setNames) await client.send(new PutObjectCommand({ Bucket: 'drops', Key: `inbox/vias3/${name}`, Body: await readFile(join(basic, name)) }));
    const runId = await pollS3Inbox(server.ctx, client, 's3://drops/inbox/vias3/', feeds.vias3!);
    expect(summary(await outcome(runId!))).toEqual(expected('failed'));
    expect((await client.send(new ListObjectsV2Command({ Bucket: 'drops', Prefix: 'inbox/vias3/' }))).Contents ?? []).toEqual([]);
    client.destroy();
  });

  it('fails the set through HTTP, with the extra upload archived', async () => {
    const { key } = await createApiKey(server.ctx.database.knex, 'viahttp');
    const put = async (name: string, body: Buffer | string) =>
      (await fetch(`${server.url}/api/v1/feeds/viahttp/files/${name}`, { method: 'PUT', body, headers: { authorization: `Bearer ${key}` } })).json() as Promise<{ run: { id: number } }>;
    await put(EXTRA, 'not part of the export\n');
    let runId = 0;
    for (const name of setNames) runId = (await put(name, await readFile(join(basic, name)))).run.id;
    expect(summary(await outcome(runId))).toEqual(expected('failed'));
  });
});
