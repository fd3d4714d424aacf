import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { addFeed, getFeed, setFeedControlFile, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { setFeedSecret } from '../../src/feeds/feedSecrets.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { pullFeed } from '../../src/pull/pullFeed.js';
import { getRun, runErrors, runEvents, type Run } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { startSourceApi, type SourceApi } from '../helpers/sourceApi.js';

const control = JSON.stringify({
  version: 1,
  mode: 'full',
  files: { 'people.json': { type: 'users', format: 'json' } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last' } },
});
const password = 'correct horse battery staple';
const TOKEN = 'tok-123-secret';
const API_KEY = 'X-Api-Key-9f8e7d-secret';

/** Another host: answers every request with an empty page and records the headers it got. */
async function startOtherHost() {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"items":[],"next":null}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe.each(testDatabases)('the pull sends credentials only to their origin, and shows no URL secrets, on $name', (database) => {
  let api: SourceApi;
  let other: Awaited<ReturnType<typeof startOtherHost>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dropDatabase: () => Promise<void>;
  let feeds = 0;
  const db = () => server.ctx.database.knex;
  const logged: string[] = [];
  const writeStderr = process.stderr.write.bind(process.stderr);

  beforeAll(async () => {
    api = await startSourceApi();
    other = await startOtherHost();
    const created = await database.create();
    dropDatabase = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url, SLUICE_SECRET_KEY: randomBytes(32).toString('base64') });
    await addAdmin(db(), { email: 'viewer@example.org', role: 'viewer', password, actor: 'test' });
    // The logs are JSON lines on stderr: keep a copy to look for secrets in.
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      logged.push(String(chunk));
      return writeStderr(chunk, ...rest);
    }) as typeof process.stderr.write;
  });
  afterAll(async () => {
    process.stderr.write = writeStderr;
    await server?.stop();
    await dropDatabase?.();
    await api?.stop();
    await other?.stop();
  });

  /** A bearer feed with an API key header, pulling from `pullUrl`. */
  async function pull(pullUrl: string, settings: Record<string, string> = {}): Promise<Run> {
    const slug = `pull${++feeds}`;
    await addFeed(db(), slug);
    await setFeedControlFile(db(), slug, control);
    const all = { pullUrl, holdFirstRun: 'false', pullAuth: 'bearer', pullHeaders: JSON.stringify({ 'x-api-key': API_KEY }), pullRecordsPath: 'items', ...settings };
    for (const [key, value] of Object.entries(all)) await setFeedSetting(db(), slug, key, value);
    await setFeedSecret(server.ctx, slug, 'pullToken', TOKEN);
    const feed = await getFeed(db(), slug);
    const run = await pullFeed(server.ctx, feed, 'test');
    await processQueue(server.ctx, { feedId: feed.id });
    return getRun(db(), run.id);
  }

  /** Everything a person can see of a run: its errors, its events and its page. */
  async function shown(run: Run): Promise<string> {
    const client = new AdminClient(server.url);
    await client.signIn('viewer@example.org', password);
    const page = await client.get(`/admin/runs/${run.id}`);
    expect(page.status).toBe(200);
    const errors = (await runErrors(db(), run.id)).map((e) => e.text);
    const events = (await runEvents(db(), run.id)).map((e) => e.message);
    return [...errors, ...events, page.text].join('\n');
  }

  const failure = async (run: Run) => (await runErrors(db(), run.id)).map((e) => e.text).join('\n');

  it.each([
    ['a next field', '/elsewhere/next', { pullPagination: 'next-link' }, "page 1's link to the next page"],
    ['a Link header', '/elsewhere/link', { pullPagination: 'next-link', pullRecordsPath: '' }, "page 1's link to the next page"],
    ['a redirect', '/elsewhere/redirect', {}, `GET ${'API'}/elsewhere/redirect redirected, and the redirect`],
  ])('fails the pull, sending nothing to the other host, when %s points there', async (_, path, settings, what) => {
    api.state.elsewhere = `${other.url}/more?page=2&token=leak-in-link`;
    const before = other.requests.length;
    const run = await pull(`${api.url}${path}`, settings);
    expect(other.requests.length - before).toBe(0);
    expect(run.state).toBe('failed');
    const origin = api.url;
    expect(await failure(run)).toBe(
      `${what.replace('API', api.url)} points to ${other.url}/more, on another origin than pullUrl (${origin}); Sluice sends the feed's credentials and pullHeaders only to ${origin}, so it does not follow it`,
    );
    expect(await shown(run)).not.toContain('leak-in-link');
  });

  it('does not follow a redirect of the OAuth token endpoint, which would carry the client secret along', async () => {
    api.state.elsewhere = `${other.url}/token`;
    const before = other.requests.length;
    const run = await pull(`${api.url}/oauth/users`, { pullAuth: 'oauth-client-credentials', pullTokenUrl: `${api.url}/elsewhere/redirect`, pullClientId: 'sluice', pullRecordsPath: '' });
    expect(other.requests.length - before).toBe(0);
    expect(run.state).toBe('failed');
    expect(await failure(run)).toMatch(new RegExp(`^could not reach ${api.url}/elsewhere/redirect: `));
  });

  it('follows a redirect on its own origin with the credentials', async () => {
    const run = await pull(`${api.url}/redirect/bearer`, { pullRecordsPath: 'data.users' });
    expect(run).toMatchObject({ state: 'applied', rowCount: 9 });
  });

  it('never shows the user-info of pullUrl, nor the query string of any URL, in run errors, events, the run page or the logs', async () => {
    const start = logged.length;
    const withCredentials = await pull(`http://svcuser:S3cretPass@${new URL(api.url).host}/bearer/users?token=Qu3ryT0ken`);
    expect(withCredentials.state).toBe('failed');
    expect(await failure(withCredentials)).toBe('pullUrl carries a user name or password; set pullAuth basic with pullUsername and the secret pullPassword instead');

    // The API quotes the request, query string and all, in its error answer.
    const quoted = await pull(`${api.url}/echo-error?token=Qu3ryT0ken`);
    expect(quoted.state).toBe('failed');
    expect(await failure(quoted)).toBe(`GET ${api.url}/echo-error answered 400 Bad Request: {"error":"invalid request ${api.url}/echo-error"}`);

    for (const run of [withCredentials, quoted]) {
      const text = await shown(run);
      for (const secret of ['svcuser', 'S3cretPass', 'Qu3ryT0ken', TOKEN, API_KEY]) expect(text).not.toContain(secret);
    }
    const logs = logged.slice(start).join('');
    for (const secret of ['svcuser', 'S3cretPass', 'Qu3ryT0ken', TOKEN, API_KEY]) expect(logs).not.toContain(secret);
  });
});
