import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed, getFeed, setFeedControlFile, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { getFeedSecret, setFeedSecret } from '../../src/feeds/feedSecrets.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { pullFeed } from '../../src/pull/pullFeed.js';
import { runScheduledPulls } from '../../src/pull/pullSchedule.js';
import { getRun, runErrors, runEvents, runFiles, type Run } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { people, startSourceApi, type SourceApi } from '../helpers/sourceApi.js';

const control = (format: 'json' | 'csv' = 'json') =>
  JSON.stringify({
    version: 1,
    mode: 'full',
    files: { [`people.${format}`]: { type: 'users', format } },
    users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last' } },
  });

const secretKey = randomBytes(32).toString('base64');

describe.each(testDatabases)('pulling from a source API on $name', (database) => {
  let api: SourceApi;
  let env: TestEnv;
  let feeds = 0;
  const db = () => env.ctx.database.knex;

  beforeAll(async () => {
    api = await startSourceApi();
    env = await openTestEnv(database, { SLUICE_SECRET_KEY: secretKey });
  });
  afterAll(async () => {
    await env?.close();
    await api?.stop();
  });

  /** A feed pulling from `path`, with its control file and the given settings and secrets. */
  async function pullingFeed(path: string, settings: Record<string, string> = {}, secrets: Record<string, string> = {}) {
    const slug = `pull${++feeds}`;
    await addFeed(db(), slug);
    await setFeedControlFile(db(), slug, control(settings.pullFormat === 'csv' ? 'csv' : 'json'));
    for (const [key, value] of Object.entries({ pullUrl: `${api.url}${path}`, holdFirstRun: 'false', ...settings })) await setFeedSetting(db(), slug, key, value);
    for (const [name, value] of Object.entries(secrets)) await setFeedSecret(env.ctx, slug, name, value);
    return slug;
  }

  async function pullAndProcess(slug: string): Promise<Run> {
    const feed = await getFeed(db(), slug);
    const run = await pullFeed(env.ctx, feed, 'test');
    await processQueue(env.ctx, { feedId: feed.id });
    return getRun(db(), run.id);
  }

  const failure = async (run: Run) => (await runErrors(db(), run.id)).map((e) => e.text).join('\n');

  it('pulls with basic authentication, archives the payload as the run files, and keeps the password encrypted', async () => {
    const slug = await pullingFeed('/basic/users', { pullAuth: 'basic', pullUsername: 'alice' }, { pullPassword: 's3cret-pass' });
    const run = await pullAndProcess(slug);
    expect(run).toMatchObject({ state: 'applied', channel: 'pull', rowCount: 9 });
    expect(run.counts.users.created).toBe(9);
    expect((await runFiles(db(), run.id)).map((f) => [f.name, f.role])).toEqual([
      ['people.json', 'data'],
      ['control.json', 'control'],
    ]);
    expect((await runEvents(db(), run.id)).map((e) => e.message)).toContain('pulled 9 records in 1 page');
    const stored = await db()('feed_secrets').where({ name: 'pullPassword' }).first('value');
    expect(stored.value).toMatch(/^v1:/);
    expect(stored.value).not.toContain('s3cret');

    await setFeedSecret(env.ctx, slug, 'pullPassword', 'wrong');
    const refused = await pullAndProcess(slug);
    expect(refused.state).toBe('failed');
    expect(await failure(refused)).toBe(`GET ${api.url}/basic/users answered 401 Unauthorized: {"error":"bad credentials"}`);
  });

  it('pulls with a bearer token from records nested in the answer', async () => {
    const slug = await pullingFeed('/bearer/users', { pullAuth: 'bearer', pullRecordsPath: 'data.users' }, { pullToken: 'tok-123-secret' });
    expect(await pullAndProcess(slug)).toMatchObject({ state: 'applied', rowCount: 9 });
  });

  it('follows the OAuth refresh-token flow: stores each rotated refresh token, refreshes an expired access token once, then fails clearly', async () => {
    api.state.refreshTokens = new Set(['rt-1']);
    const slug = await pullingFeed('/oauth/users', { pullAuth: 'oauth-refresh-token', pullTokenUrl: `${api.url}/oauth/token`, pullClientId: 'sluice' }, { pullRefreshToken: 'rt-1' });
    const feedId = (await getFeed(db(), slug)).id;
    expect(await pullAndProcess(slug)).toMatchObject({ state: 'applied', rowCount: 9 });
    const rotated = await getFeedSecret(env.ctx, feedId, 'pullRefreshToken');
    expect(rotated).toMatch(/^rt-\d+$/);
    expect(rotated).not.toBe('rt-1');

    // The access token expires: one refresh with the rotated token, and the pull goes through.
    api.state.accessTokens.clear();
    const before = api.state.tokenRequests.length;
    expect(await pullAndProcess(slug)).toMatchObject({ state: 'applied' });
    expect(api.state.tokenRequests.slice(before)).toEqual([expect.objectContaining({ grant_type: 'refresh_token', refresh_token: rotated, client_id: 'sluice' })]);
    expect(await getFeedSecret(env.ctx, feedId, 'pullRefreshToken')).not.toBe(rotated);

    // The refresh token is revoked at the source: the pull fails and says why.
    api.state.accessTokens.clear();
    api.state.refreshTokens.clear();
    const failed = await pullAndProcess(slug);
    expect(failed.state).toBe('failed');
    expect(await failure(failed)).toBe(`the token endpoint ${api.url}/oauth/token refused to issue an access token (400): {"error":"invalid_grant","error_description":"refresh token unknown or used"}`);
  });

  it('pulls with OAuth client credentials', async () => {
    const slug = await pullingFeed('/oauth/users', { pullAuth: 'oauth-client-credentials', pullTokenUrl: `${api.url}/oauth/token`, pullClientId: 'sluice', pullScope: 'users:read' }, { pullClientSecret: 'cs-secret' });
    expect(await pullAndProcess(slug)).toMatchObject({ state: 'applied', rowCount: 9 });
    expect(api.state.tokenRequests.at(-1)).toMatchObject({ grant_type: 'client_credentials', client_id: 'sluice', client_secret: 'cs-secret', scope: 'users:read' });
  });

  it.each([
    ['a next link in the answer', '/paged/next', { pullPagination: 'next-link', pullRecordsPath: 'items' }],
    ['a Link header', '/paged/link', { pullPagination: 'next-link' }],
    ['a cursor', '/paged/cursor', { pullPagination: 'cursor', pullRecordsPath: 'items', pullCursorField: 'meta.cursor', pullCursorParam: 'after' }],
    ['page numbers', '/paged/number', { pullPagination: 'page', pullRecordsPath: 'items' }],
    ['page numbers, in CSV', '/paged/csv', { pullPagination: 'page', pullFormat: 'csv' }],
  ])('reads three pages following %s', async (_name, path, settings) => {
    const slug = await pullingFeed(path, settings);
    const run = await pullAndProcess(slug);
    expect(run).toMatchObject({ state: 'applied', rowCount: 9 });
    expect(run.counts.users.created).toBe(9);
    const pages = settings.pullPagination === 'page' ? 4 : 3; // numbered pages end with an empty one
    expect((await runEvents(db(), run.id)).map((e) => e.message)).toContain(`pulled 9 records in ${pages} pages`);
  });

  it('turns a 500 and a timeout into failed runs that say what happened, with nothing applied', async () => {
    const broken = await pullAndProcess(await pullingFeed('/broken'));
    expect(broken.state).toBe('failed');
    const text = await failure(broken);
    expect(text).toMatch(new RegExp(`^GET ${api.url}/broken answered 500 Internal Server Error: Internal Server Error the database is down \\(ref x+…$`));
    expect(text.length).toBeLessThan(330);
    const slow = await pullAndProcess(await pullingFeed('/slow', { pullTimeoutSeconds: '1' }));
    expect(slow.state).toBe('failed');
    expect(await failure(slow)).toBe(`${api.url}/slow did not answer within 1 s`);
    expect((await runEvents(db(), slow.id)).at(-1)?.message).toBe(`pull failed after 0 pages: ${api.url}/slow did not answer within 1 s`);
  });

  it('holds a pulled run by the same rules as an upload', async () => {
    const slug = await pullingFeed('/basic/users', { pullAuth: 'basic', pullUsername: 'alice', minBaselineForPercent: '1' }, { pullPassword: 's3cret-pass' });
    expect((await pullAndProcess(slug)).state).toBe('applied');
    api.state.users = people(6);
    try {
      const held = await pullAndProcess(slug);
      expect(held.state).toBe('held');
      expect(held.holdReasons).toEqual([expect.objectContaining({ rule: 'maxUserRemovalPercent', message: '3 of 9 users (33.3 %) would be suspended or deleted; the limit is 10 %' })]);
    } finally {
      api.state.users = people(9);
    }
  });

  it('pulls on its schedule with a controllable clock, and stops after finalSyncAt', async () => {
    const slug = await pullingFeed('/paged/number', { pullPagination: 'page', pullRecordsPath: 'items', schedule: 'hourly' });
    const pulls = (now: string) => runScheduledPulls(env.ctx, new Date(now)).then((runs) => runs.filter((r) => r.feedId === feedId).length);
    const feedId = (await getFeed(db(), slug)).id;
    expect(await pulls('2026-11-21T10:20:00Z')).toBe(0); // the schedule starts: next at 11:00
    expect(await pulls('2026-11-21T10:59:59Z')).toBe(0);
    expect(await pulls('2026-11-21T11:00:05Z')).toBe(1);
    expect(await pulls('2026-11-21T11:00:35Z')).toBe(0); // the next tick: already pulled
    expect(await pulls('2026-11-21T11:30:00Z')).toBe(0);
    expect(await pulls('2026-11-21T12:00:10Z')).toBe(1);
    await setFeedSetting(db(), slug, 'finalSyncAt', '2026-11-21T12:30:00Z');
    expect(await pulls('2026-11-21T13:00:00Z')).toBe(0);
    expect(await pulls('2026-11-22T09:00:00Z')).toBe(0);

    await setFeedSetting(db(), slug, 'finalSyncAt', 'none');
    await setFeedSetting(db(), slug, 'schedule', 'daily 06:30');
    expect(await pulls('2026-11-22T09:00:00Z')).toBe(0); // changed schedule: next at 06:30 tomorrow
    expect(await pulls('2026-11-23T06:29:00Z')).toBe(0);
    expect(await pulls('2026-11-23T06:30:00Z')).toBe(1);
    await setFeedSetting(db(), slug, 'schedule', '*/15 * * * *');
    expect(await pulls('2026-11-23T06:31:00Z')).toBe(0);
    expect(await pulls('2026-11-23T06:45:00Z')).toBe(1);
  });

  it('keeps credentials out of run timelines, errors and files', async () => {
    const everything = [
      ...((await db()('run_events').pluck('message')) as string[]),
      ...((await db()('run_errors').pluck('message')) as string[]),
      ...((await db()('audit_log').pluck('details')) as string[]),
      ...((await db()('feed_secrets').pluck('value')) as string[]),
    ].join('\n');
    for (const secret of ['s3cret-pass', 'tok-123-secret', 'cs-secret', 'rt-1', 'at-1']) expect(everything).not.toContain(secret);
  });
});
