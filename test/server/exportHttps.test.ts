import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { getDirectoryUser } from '../../src/directory/directory.service.js';
import { exportAppChanges } from '../../src/exports/exports.service.js';
import { addFeed, getFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { setFeedSecret } from '../../src/feeds/feedSecrets.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { approveRun } from '../../src/runs/runActions.js';
import { runEvents } from '../../src/runs/runs.service.js';
import { startTestServer } from '../helpers/server.js';
import { copySample, importFolder } from '../helpers/uploads.js';

/** A plain HTTP server on loopback that records what reached it and answers with `answer`. */
async function recorder(answer: (req: IncomingMessage) => { status: number; headers?: Record<string, string> }) {
  const seen: { method: string; url: string; authorization?: string }[] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      const { status, headers } = answer(req);
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, bodies, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('exporting the applications\' changes to another Sluice over HTTP(S)', () => {
  let app: Awaited<ReturnType<typeof startTestServer>>;
  let source: Awaited<ReturnType<typeof startTestServer>>;
  let write: string;
  let sourceKey: string;
  const appDb = () => app.ctx.database.knex;
  const sourceDb = () => source.ctx.database.knex;
  const filesUrl = () => `${source.url}/api/v1/feeds/hr/files`;
  const post = async (changes: unknown) => {
    const response = await fetch(`${app.url}/api/v1/feeds/hr/app-changes`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' }, body: JSON.stringify({ changes }) });
    expect(response.status, await response.clone().text()).toBe(201);
  };
  const exportNow = async () => exportAppChanges(app.ctx, await getFeed(appDb(), 'hr'), 'test');
  const failure = async () => exportNow().then(() => expect.fail('the export should have failed'), (error: Error) => error);
  const lastExportRun = async () => (await appDb()('runs').where({ channel: 'export' }).orderBy('id', 'desc').first()) as { id: number; state: string };
  const sourceRuns = async () => (await sourceDb()('runs').where({ channel: 'http' }).count({ n: '*' }))[0]!.n;

  beforeAll(async () => {
    // Two real Sluice servers: "app" holds the application's side, "source" plays the source system's import.
    app = await startTestServer({ SLUICE_SECRET_KEY: randomBytes(32).toString('base64') });
    source = await startTestServer();
    for (const server of [app, source]) {
      await addFeed(server.ctx.database.knex, 'hr', { settings: { holdFirstRun: false } });
      expect((await importFolder(server.ctx, 'hr', await copySample('basic'))).state).toBe('applied');
    }
    write = (await createAppToken(appDb(), { name: 'app', feeds: ['hr'], scope: 'write' })).token;
    sourceKey = (await createApiKey(sourceDb(), 'hr')).key;
    await setFeedSetting(appDb(), 'hr', 'exportTo', filesUrl());
    await setFeedSetting(appDb(), 'hr', 'pullAuth', 'bearer');
  });
  afterAll(async () => {
    await app?.stop();
    await source?.stop();
  });

  it('accepts https:// and loopback http:// targets only, without credentials or a query in the URL', async () => {
    await expect(setFeedSetting(appDb(), 'hr', 'exportTo', 'http://sluice.example.org/api/v1/feeds/hr/files')).rejects.toThrow(/use https:\/\//);
    await expect(setFeedSetting(appDb(), 'hr', 'exportTo', 'https://me:secret@sluice.example.org/x')).rejects.toThrow(/user name or password/);
    await expect(setFeedSetting(appDb(), 'hr', 'exportTo', 'https://sluice.example.org/x?token=secret')).rejects.toThrow(/query string/);
    await setFeedSetting(appDb(), 'hr', 'exportTo', 'https://sluice.example.org/api/v1/feeds/hr/files');
    await setFeedSetting(appDb(), 'hr', 'exportTo', filesUrl());
    expect((await getFeed(appDb(), 'hr')).settings.exportTo).toBe(filesUrl());
  });

  it('with a wrong key the export fails with a redacted message, reaches no run on the other side, and marks nothing exported', async () => {
    await setFeedSecret(app.ctx, 'hr', 'pullToken', 'sk_wrong_key_never_shown');
    await post([{ op: 'create', key: 'app1', fields: { email: 'new.person@example.org', firstName: 'New', lastName: 'Person' } }]);
    const error = await failure();
    expect(error.message).toContain(`PUT ${filesUrl()}/users.csv answered 401`);
    expect(error.message).not.toContain('sk_wrong_key_never_shown');
    const run = await lastExportRun();
    expect(run.state).toBe('failed');
    const events = (await runEvents(appDb(), run.id)).map((e) => e.message).join('\n');
    expect(events).toMatch(/failed, nothing is marked exported: .*401/);
    expect(events).not.toContain('sk_wrong_key_never_shown');
    expect(await appDb()('app_exports').where({ run_id: run.id }).first('delivered_at')).toEqual({ delivered_at: null });
    expect(Number(await sourceRuns())).toBe(0);
  });

  it('with that feed\'s API key as a bearer pullToken, the other Sluice receives the set as an upload, validates and applies it', async () => {
    await setFeedSecret(app.ctx, 'hr', 'pullToken', sourceKey);
    await post([{ op: 'update', key: 'u1000', fields: { title: 'Dr' } }]);
    // The failed export's user comes again: it was never marked exported.
    const result = (await exportNow())!;
    expect(result).toMatchObject({ users: 2, target: filesUrl(), run: { channel: 'export', state: 'applied' } });
    expect(await appDb()('app_exports').where({ run_id: result.run.id }).first('target')).toEqual({ target: filesUrl() });

    const [received, ...more] = await processQueue(source.ctx);
    expect(more).toEqual([]);
    // It passed validation; an export's mapping is not the source's own, so the other side holds it for review.
    expect(received).toMatchObject({ channel: 'http', state: 'held', errorCount: 0, mode: 'delta', holdReasons: [{ rule: 'holdOnMappingChange' }] });
    expect(await approveRun(source.ctx, received!.id, 'reviewer')).toMatchObject({ state: 'applied' });
    const files = (await sourceDb()('run_files').where({ run_id: received!.id }).pluck('name')) as string[];
    expect(files.sort()).toEqual(['control.json', 'users.csv']);
    expect(await sourceDb()('directory_users').where({ user_key: 'app1' }).first('state')).toEqual({ state: 'active' });
    const feedId = (await getFeed(sourceDb(), 'hr')).id;
    expect((await getDirectoryUser(sourceDb(), feedId, 'u1000')).fields).toContainEqual(expect.objectContaining({ name: 'title', value: 'Dr' }));
    expect(await exportNow()).toBeNull();
  });

  it('does not follow a redirect to another origin with the credentials; nothing is marked exported', async () => {
    const elsewhere = await recorder(() => ({ status: 201 }));
    const redirector = await recorder((req) => ({ status: 307, headers: { location: `${elsewhere.url}${req.url}?token=leak` } }));
    try {
      await setFeedSetting(appDb(), 'hr', 'exportTo', `${redirector.url}/api/v1/feeds/hr/files`);
      await post([{ op: 'update', key: 'u1001', fields: { title: 'Prof' } }]);
      const error = await failure();
      expect(error.message).toContain(`points to ${elsewhere.url}/api/v1/feeds/hr/files/users.csv, on another origin than exportTo (${redirector.url})`);
      expect(error.message).not.toContain('leak');
      expect(redirector.seen).toEqual([{ method: 'PUT', url: '/api/v1/feeds/hr/files/users.csv', authorization: `Bearer ${sourceKey}` }]);
      expect(elsewhere.seen).toEqual([]);
      const run = await lastExportRun();
      expect(run.state).toBe('failed');
      expect(await appDb()('app_exports').where({ run_id: run.id }).first('delivered_at')).toEqual({ delivered_at: null });
    } finally {
      await redirector.stop();
      await elsewhere.stop();
    }
  });

  it('follows a redirect on the same origin, sending the whole file again with the credentials', async () => {
    const target = await recorder((req) => (req.url!.startsWith('/old/') ? { status: 308, headers: { location: req.url!.replace('/old/', '/new/') } } : { status: 201 }));
    try {
      await setFeedSetting(appDb(), 'hr', 'exportTo', `${target.url}/old`);
      await post([{ op: 'update', key: 'u1002', fields: { title: 'Mx' } }]);
      const result = (await exportNow())!;
      expect(result.run.state).toBe('applied');
      const auth = `Bearer ${sourceKey}`;
      expect(target.seen).toEqual([
        { method: 'PUT', url: '/old/users.csv', authorization: auth },
        { method: 'PUT', url: '/new/users.csv', authorization: auth },
        { method: 'PUT', url: '/old/control.json', authorization: auth },
        { method: 'PUT', url: '/new/control.json', authorization: auth },
      ]);
      expect(target.bodies[1]).toBe(target.bodies[0]);
      // u1001 rides along: the export that the cross-origin redirect stopped was never marked sent.
      expect(target.bodies[1]).toMatch(/^username,.*\r\nu1001,.*\r\nu1002,/s);
      expect(JSON.parse(target.bodies[3]!)).toMatchObject({ feed: 'hr', mode: 'delta', files: { 'users.csv': { rows: 2 } } });
    } finally {
      await target.stop();
    }
  });

  it('a folder target that cannot be written fails its run the same way, and the changes go with the next export', async () => {
    await setFeedSetting(appDb(), 'hr', 'exportTo', '/dev/null/exports');
    await post([{ op: 'update', key: 'u1003', fields: { title: 'Ms' } }]);
    expect((await failure()).message).toMatch(/^the export to \/dev\/null\/exports failed, nothing is marked exported: .*ENOTDIR/);
    expect((await lastExportRun()).state).toBe('failed');
    await setFeedSetting(appDb(), 'hr', 'exportTo', filesUrl());
    expect(await exportNow()).toMatchObject({ users: 1, run: { state: 'applied' } });
  });
});
