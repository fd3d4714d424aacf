import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun } from '../../src/runs/runActions.js';
import { getRun, runFiles } from '../../src/runs/runs.service.js';
import { runCli, sluice } from '../helpers/cli.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

/** A PUT whose body the test writes itself, as slowly as it likes. */
function slowPut(url: string, key: string) {
  let req!: ClientRequest;
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' } }, async (res) => {
      const text = (await buffer(res)).toString('utf8');
      resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null });
    });
    req.on('error', reject);
  });
  const write = (chunk: Buffer) => new Promise<void>((resolve, reject) => req.write(chunk, (error) => (error ? reject(error) : resolve())));
  return { req, response, write };
}

describe.each(testDatabases)('uploads racing with their set ($name)', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dropDatabase: () => Promise<void>;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    const created = await database.create();
    dropDatabase = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url });
    for (const slug of ['hr', 'twice']) {
      await addFeed(server.ctx.database.knex, slug);
      keys[slug] = (await createApiKey(server.ctx.database.knex, slug)).key;
    }
  });
  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
  });

  const put = async (feed: string, name: string, body: Buffer) => {
    const response = await fetch(`${server.url}/api/v1/feeds/${feed}/files/${name}`, { method: 'PUT', body, headers: { authorization: `Bearer ${keys[feed]}` } });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('never rewrites an applied run: an upload finishing after its set was applied joins the next set', async () => {
    const folder = join(samples, 'basic');
    const original = await readFile(join(folder, 'people.csv'));
    for (const name of ['people.csv', 'groups.csv', 'memberships.csv']) expect((await put('hr', name, await readFile(join(folder, name)))).status).toBe(201);

    // A second people.csv starts while the set is open and crawls in.
    const slow = slowPut(`${server.url}/api/v1/feeds/hr/files/people.csv`, keys.hr!);
    const late = Buffer.from(original.toString('utf8').replace(/\n[^\n]*\n$/, '\n'));
    await slow.write(late.subarray(0, 100));
    await until('the slow upload to be streaming into a temporary file', async () => (await walk(join(server.dataDir, 'archive'))).some((p) => p.endsWith('.partial')));

    const done = await put('hr', 'control.json', await readFile(join(folder, 'control.json')));
    const runId = done.body.run.id as number;
    expect(done.body.run.state).toBe('queued');
    await processQueue(server.ctx);
    expect((await approveRun(server.ctx, runId)).state).toBe('applied');

    await slow.write(late.subarray(100));
    slow.req.end();
    const answer = await slow.response;
    expect(answer.status).toBe(201);
    expect(answer.body.run.id).not.toBe(runId);
    expect(answer.body.run).toMatchObject({ state: 'receiving', missing: ['control.json'] });

    const db = server.ctx.database.knex;
    expect((await getRun(db, runId)).state).toBe('applied');
    const people = (await runFiles(db, runId)).find((f) => f.name === 'people.csv')!;
    expect(people.sha256).toBe(sha256(original));
    expect((await buffer(server.ctx.archive.read(people.storageKey))).equals(original)).toBe(true);
  });

  it('keeps two concurrent uploads of one name apart: both answer, the archived file is one of them whole', async () => {
    const bodies = [Buffer.alloc(4 * 1024 * 1024, 'a,1\n'), Buffer.alloc(4 * 1024 * 1024, 'b,22\n')];
    const uploads = bodies.map(() => slowPut(`${server.url}/api/v1/feeds/twice/files/people.csv`, keys.twice!));
    // Interleave the two bodies chunk by chunk, so both are being written at once.
    const chunk = 256 * 1024;
    for (let offset = 0; offset < bodies[0]!.length; offset += chunk) {
      for (let i = 0; i < 2; i++) await uploads[i]!.write(bodies[i]!.subarray(offset, offset + chunk));
    }
    for (const upload of uploads) upload.req.end();
    const answers = await Promise.all(uploads.map((u) => u.response));
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    expect(answers.map((a) => a.body.file.sha256)).toEqual(bodies.map(sha256));

    const db = server.ctx.database.knex;
    const [file] = (await runFiles(db, answers[0]!.body.run.id)).filter((f) => f.name === 'people.csv');
    const archived = await buffer(server.ctx.archive.read(file!.storageKey));
    expect(bodies.some((b) => b.equals(archived))).toBe(true);
    expect(file!.sha256).toBe(sha256(archived));
  });
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

describe('an upload cut off by SIGKILL', () => {
  it('leaves no temporary file once the server has started again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-kill-'));
    const env = { SLUICE_DATA_DIR: dir, SLUICE_JOBS: 'off' };
    await runCli(['migrate'], env);
    await runCli(['feed', 'add', 'hr'], env);
    const key = (await runCli(['key', 'create', 'hr'], env)).stdout.split('\n')[0]!;
    const start = async () => {
      const port = await freePort();
      const child = sluice(['serve'], { ...env, PORT: String(port) });
      const url = `http://127.0.0.1:${port}`;
      await until('the server to answer', () => fetch(`${url}/healthz`).then((r) => r.ok, () => false));
      return { child, url };
    };
    const first = await start();
    const slow = slowPut(`${first.url}/api/v1/feeds/hr/files/people.csv`, key);
    slow.response.catch(() => undefined);
    slow.req.on('error', () => undefined);
    await slow.write(Buffer.alloc(256 * 1024, 'x'));
    await until('the upload to be streaming into a temporary file', async () => (await walk(join(dir, 'archive'))).some((p) => p.endsWith('.partial')));
    first.child.child.kill('SIGKILL');
    await first.child.done;

    const second = await start();
    try {
      expect((await walk(join(dir, 'archive'))).filter((p) => p.endsWith('.partial'))).toEqual([]);
    } finally {
      second.child.child.kill('SIGTERM');
      await second.child.done;
    }
  });
});
