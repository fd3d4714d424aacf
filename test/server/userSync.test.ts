import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { readChanges } from '../../src/directory/changeLog.js';
import { addFeed, getFeed, setFeedControlFile, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { getFeedSecret, setFeedSecret } from '../../src/feeds/feedSecrets.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { pullFeed } from '../../src/pull/pullFeed.js';
import { getRun } from '../../src/runs/runs.service.js';
import { startTestServer } from '../helpers/server.js';
import { startSourceApi, type SourceApi } from '../helpers/sourceApi.js';

const control = {
  version: 1,
  mode: 'full',
  files: { 'people.json': { type: 'users', format: 'json' } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last' } },
};

describe('one user synced on demand from the source API', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: SourceApi;
  let write: string;
  let read: string;
  const db = () => server.ctx.database.knex;
  const sync = (key: string, token = write) => fetch(`${server.url}/api/v1/feeds/crm/users/${encodeURIComponent(key)}/sync`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    api = await startSourceApi();
    server = await startTestServer({ SLUICE_SECRET_KEY: randomBytes(32).toString('base64') });
    await addFeed(db(), 'crm');
    await setFeedControlFile(db(), 'crm', JSON.stringify(control));
    const settings = {
      pullUrl: `${api.url}/oauth/users`,
      pullUserUrl: `${api.url}/oauth/users/{key}`,
      pullAuth: 'oauth-refresh-token',
      pullTokenUrl: `${api.url}/oauth/token`,
      pullClientId: 'sluice',
      holdFirstRun: 'false',
    };
    for (const [key, value] of Object.entries(settings)) await setFeedSetting(db(), 'crm', key, value);
    await setFeedSecret(server.ctx, 'crm', 'pullRefreshToken', 'rt-1');
    const feed = await getFeed(db(), 'crm');
    const first = await pullFeed(server.ctx, feed, 'test');
    await processQueue(server.ctx, { feedId: feed.id });
    expect((await getRun(db(), first.id)).state).toBe('applied');
    write = (await createAppToken(db(), { name: 'portal', feeds: ['crm'], scope: 'write' })).token;
    read = (await createAppToken(db(), { name: 'reader', feeds: ['crm'], scope: 'read' })).token;
  });
  afterAll(async () => {
    await server?.stop();
    await api?.stop();
  });

  it('refreshes an expired access token once, applies the one record as a delta run, and changes that user and nobody else', async () => {
    // The source changed two people; the stored access token has expired meanwhile.
    api.state.users[2]!.first = 'Renamed';
    api.state.users[3]!.first = 'AlsoRenamed';
    api.state.accessTokens.clear();
    const tokenRequests = api.state.tokenRequests.length;
    const before = (await readChanges(db(), { after: 0, limit: 10_000 })).last;

    const response = await sync('p3');
    const body = (await response.json()) as { user: { key: string; fields: Record<string, unknown> }; run: { id: number; state: string } };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.user).toMatchObject({ key: 'p3', state: 'active', fields: { firstName: 'Renamed' } });
    expect(api.state.tokenRequests.length).toBe(tokenRequests + 1);
    expect(api.state.hits.filter((h) => h === 'GET /oauth/users/p3')).toHaveLength(2);
    expect(await getFeedSecret(server.ctx, (await getFeed(db(), 'crm')).id, 'pullRefreshToken')).toBe('rt-3');

    const run = await getRun(db(), body.run.id);
    expect(run).toMatchObject({ state: 'applied', mode: 'delta', rowCount: 1 });
    const changes = (await readChanges(db(), { after: before, limit: 10_000 })).changes;
    expect(changes.map((c) => [c.runId, c.entity, c.entityKey, c.operation])).toEqual([[run.id, 'user', 'p3', 'update']]);
    const p4 = await db()('directory_users').where({ user_key: 'p4' }).first('first_name');
    expect(p4.first_name).toBe('First4');
    expect(Number((await db()('directory_users').where({ state: 'active' }).count({ n: '*' }))[0]!.n)).toBe(9);
  });

  it('answers 404 without a run for a user the source does not have, and refuses a read-only token', async () => {
    const runs = Number((await db()('runs').count({ n: '*' }))[0]!.n);
    const missing = await sync('nobody/else');
    expect(missing.status).toBe(404);
    expect(api.state.hits).toContain('GET /oauth/users/nobody%2Felse');
    expect(Number((await db()('runs').count({ n: '*' }))[0]!.n)).toBe(runs);
    expect((await sync('p3', read)).status).toBe(403);
  });
});
