import { request } from 'node:http';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { getRun, runErrors, runEvents, runFiles } from '../../src/runs/runs.service.js';
import { startTestServer } from '../helpers/server.js';
import { usersControl, usersCsv } from '../helpers/uploads.js';

interface Answer {
  status: number;
  body: any;
  /** Whether the server said `100 Continue` before answering. */
  continued: boolean;
}

/**
 * A PUT as curl sends it: `Expect: 100-continue`, and the body only once the server says so.
 * With `chunked` the body goes without a Content-Length; writing stops once the server answers.
 */
function put(url: string, headers: Record<string, string>, body: Buffer, options: { chunked?: boolean } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    let continued = false;
    const req = request(url, {
      method: 'PUT',
      headers: { expect: '100-continue', ...headers, ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }) },
    });
    let answered = false;
    req.on('continue', () => {
      continued = true;
      let offset = 0;
      const pump = () => {
        while (offset < body.length && !answered) {
          const chunk = body.subarray(offset, offset + 64 * 1024);
          offset += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    req.on('response', async (res) => {
      answered = true;
      const text = (await buffer(res)).toString('utf8');
      resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null, continued });
      req.destroy();
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.flushHeaders();
  });
}

describe('upload limits and names', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let key: string;
  const url = (name: string, feed = 'hr') => `${server.url}/api/v1/feeds/${feed}/files/${encodeURIComponent(name)}`;
  const auth = () => ({ authorization: `Bearer ${key}` });
  beforeAll(async () => {
    server = await startTestServer();
    await addFeed(server.ctx.database.knex, 'hr');
    await addFeed(server.ctx.database.knex, 'many');
    await addFeed(server.ctx.database.knex, 'huge');
    key = (await createApiKey(server.ctx.database.knex, 'hr')).key;
  });
  afterAll(async () => server?.stop());

  it('answers 100 Continue only once the key, the name and the size were accepted', async () => {
    expect(await put(url('a.csv'), { authorization: 'Bearer sluice_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, Buffer.from('x'))).toMatchObject({ status: 401, continued: false });
    expect(await put(url('a\r\nb.csv'), auth(), Buffer.from('x'))).toMatchObject({ status: 400, continued: false });
    expect(await put(url('control.json'), auth(), Buffer.alloc(2 * 1024 * 1024, ' '))).toMatchObject({ status: 413, continued: false });
    const accepted = await put(url('users.csv'), auth(), Buffer.from(usersCsv([['u1', 'u1@example.org', 'Ada', 'Lovelace']])));
    expect(accepted).toMatchObject({ status: 201, continued: true, body: { file: { name: 'users.csv' } } });
  });

  it('stops a control file over 1 MB while it streams, answers 413 as JSON, and the feed keeps working', async () => {
    const huge = Buffer.concat([Buffer.from('{"version": 1, "files": {'), Buffer.alloc(3 * 1024 * 1024, ' ')]);
    const answer = await put(url('control.json'), auth(), huge, { chunked: true });
    expect(answer).toMatchObject({ status: 413, body: { error: { code: 'too_large', message: expect.stringContaining('control file') } } });
    const db = server.ctx.database.knex;
    expect(await db('run_files').where({ name: 'control.json' }).count({ n: '*' })).toEqual([{ n: 0 }]);
    const done = await put(url('control.json'), auth(), Buffer.from(JSON.stringify(usersControl())));
    expect(done).toMatchObject({ status: 201, body: { run: { state: 'queued' } } });
  });

  it('refuses names no control file can list with 400 JSON, creating no run', async () => {
    const db = server.ctx.database.knex;
    const before = await db('runs').count({ n: '*' });
    for (const name of [`${'a'.repeat(250)}.csv`, `${'é'.repeat(130)}.csv`, 'a\r\nb.csv', 'people\u202Evsc.exe', '.hidden.csv']) {
      const answer = await put(url(name), auth(), Buffer.from('id\n1\n'));
      expect(answer, JSON.stringify(name)).toMatchObject({ status: 400, body: { error: { code: 'usage' } } });
    }
    expect(await db('runs').count({ n: '*' })).toEqual(before);
  });

  it('fails a set naming more files than a set may hold at once, and keeps every run event short', async () => {
    const manyKey = (await createApiKey(server.ctx.database.knex, 'many')).key;
    const control = (count: number) =>
      Buffer.from(JSON.stringify(usersControl({ files: Object.fromEntries(Array.from({ length: count }, (_, i) => [`part-${String(i).padStart(5, '0')}.csv`, { type: 'users' }])) })));
    const headers = { authorization: `Bearer ${manyKey}` };

    // 60 files: allowed; the set waits for them, and its event says so briefly.
    const waiting = await put(url('control.json', 'many'), headers, control(60));
    expect(waiting).toMatchObject({ status: 201, body: { run: { state: 'receiving' } } });
    expect(waiting.body.run.missing).toHaveLength(60);
    const db = server.ctx.database.knex;
    for (const upload of ['part-00000.csv', 'part-00001.csv']) await put(url(upload, 'many'), headers, Buffer.from(usersCsv([['u1', 'u1@example.org', 'A', 'B']])));
    const events = await runEvents(db, waiting.body.run.id);
    expect(events.filter((e) => e.message.startsWith('waiting for')).length).toBeGreaterThan(0);
    expect(Math.max(...events.map((e) => e.message.length))).toBeLessThan(300);

    // 10 000 files: the set fails at once with a clear error instead of waiting for them.
    const hugeKey = (await createApiKey(server.ctx.database.knex, 'huge')).key;
    const many = await put(url('control.json', 'huge'), { authorization: `Bearer ${hugeKey}` }, control(10_000));
    expect(many).toMatchObject({ status: 201, body: { run: { state: 'queued', missing: [] } } });
    await processQueue(server.ctx);
    const runId = many.body.run.id as number;
    expect((await getRun(db, runId)).state).toBe('failed');
    expect((await runErrors(db, runId)).map((e) => e.text)).toContainEqual(expect.stringMatching(/^control\.json:\d+:\d+: \/files: names 10000 files; an upload set holds at most 100$/));
    expect(Math.max(...(await runEvents(db, runId)).map((e) => e.message.length))).toBeLessThan(300);
    expect((await runFiles(db, runId)).map((f) => f.name)).toEqual(['control.json']);
  });

  it('fails an open set that grows past 101 files, keeping them, and opens a new set for the next file', async () => {
    await addFeed(server.ctx.database.knex, 'flood');
    const headers = { authorization: `Bearer ${(await createApiKey(server.ctx.database.knex, 'flood')).key}` };
    const answers: Answer[] = [];
    for (let i = 0; i < 103; i++) answers.push(await put(url(`f${i}.csv`, 'flood'), headers, Buffer.from('id\n1\n')));
    expect(answers.map((a) => a.status).every((s) => s === 201)).toBe(true);
    const first = answers[0]!.body.run.id as number;
    expect(answers[100]!.body.run).toMatchObject({ id: first, state: 'receiving' });
    expect(answers[101]!.body.run).toMatchObject({ id: first, state: 'failed' });
    expect(answers[102]!.body.run).toMatchObject({ state: 'receiving' });
    expect(answers[102]!.body.run.id).not.toBe(first);
    const db = server.ctx.database.knex;
    expect((await runErrors(db, first)).map((e) => e.text)).toEqual(['the upload set holds 102 files; a set holds at most 100 data files and its control file']);
    expect(await runFiles(db, first)).toHaveLength(102);
  });
});
