import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { listAudit } from '../../src/audit/audit.service.js';
import { loadConfig } from '../../src/config.js';
import { openContext } from '../../src/context.js';
import { addFeed, setFeedControlFile, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { getRun } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { startSourceApi, type SourceApi } from '../helpers/sourceApi.js';
import { until } from '../helpers/wait.js';

const control = JSON.stringify({
  version: 1,
  mode: 'full',
  files: { 'people.json': { type: 'users', format: 'json' } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last' } },
});
const secretKey = randomBytes(32).toString('hex');

describe('Sync now', () => {
  let api: SourceApi;
  beforeAll(async () => {
    api = await startSourceApi();
  });
  afterAll(async () => api?.stop());

  it('from the API (202, then the status URL) and from the admin page (operators, not viewers)', async () => {
    const server = await startTestServer({ SLUICE_SECRET_KEY: secretKey });
    try {
      const db = server.ctx.database.knex;
      await addFeed(db, 'events');
      await setFeedControlFile(db, 'events', control);
      await setFeedSetting(db, 'events', 'pullUrl', `${api.url}/paged/next`);
      await setFeedSetting(db, 'events', 'pullPagination', 'next-link');
      await setFeedSetting(db, 'events', 'pullRecordsPath', 'items');
      const { key, apiKey } = await createApiKey(db, 'events');

      const started = await fetch(`${server.url}/api/v1/feeds/events/sync`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      expect(started.status).toBe(202);
      const body = (await started.json()) as { id: number; state: string; statusUrl: string };
      expect(body.state).toBe('receiving');
      const status = await until('the pulled run to be held', async () => {
        const r = (await (await fetch(`${server.url}/api/v1/runs/${body.id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { state: string; counts: { users: { created: number } } };
        return r.state === 'held' ? r : null;
      });
      expect(status.counts.users.created).toBe(9);
      expect((await fetch(`${server.url}/api/v1/feeds/events/sync`, { method: 'POST' })).status).toBe(401);

      for (const role of ['viewer', 'operator'] as const) await addAdmin(db, { email: `${role}@example.org`, role, password: 'long enough password', actor: 'test' });
      const viewer = new AdminClient(server.url);
      await viewer.signIn('viewer@example.org', 'long enough password');
      expect((await viewer.get('/admin/feeds/events/settings')).text).not.toContain('action="/admin/feeds/events/sync"');
      expect((await viewer.post('/admin/feeds/events/sync')).status).toBe(403);
      const operator = new AdminClient(server.url);
      await operator.signIn('operator@example.org', 'long enough password');
      expect((await operator.get('/admin/feeds/events/settings')).text).toContain('action="/admin/feeds/events/sync"');
      const synced = await operator.post('/admin/feeds/events/sync');
      const runId = Number(/\/admin\/runs\/(\d+)$/.exec(synced.location!)![1]);
      expect(runId).toBeGreaterThan(body.id);
      await until('the admin sync to be processed', async () => (await getRun(db, runId)).state === 'held');
      expect((await operator.get(`/admin/runs/${runId}`)).text).toContain('pulling from ' + api.url + '/paged/next for operator@example.org');
      // The newer full snapshot supersedes the API's held run.
      expect((await getRun(db, body.id)).state).toBe('superseded');
      const syncs = (await listAudit(db, { limit: 50, offset: 0 })).entries.filter((e) => e.action === 'feed.sync').reverse();
      expect(syncs.map((e) => [e.actor, e.target, e.details])).toEqual([
        [`api:${apiKey.prefix}`, 'feed events', { run: body.id }],
        ['operator@example.org', 'feed events', { run: runId }],
      ]);
    } finally {
      await server.stop();
    }
  });

  it('from the CLI, with secrets set from stdin and shown only as set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sync-cli-'));
    const env = { SLUICE_DATA_DIR: dir, DATABASE_URL: '', SLUICE_SECRET_KEY: secretKey };
    try {
      await writeFile(join(dir, 'control.json'), control);
      expect((await runCli(['feed', 'add', 'crm'], env)).code).toBe(0);
      expect((await runCli(['feed', 'control', 'crm', join(dir, 'control.json')], env)).code).toBe(0);
      for (const [key, value] of [['pullUrl', `${api.url}/basic/users`], ['pullAuth', 'basic'], ['pullUsername', 'alice']]) {
        expect((await runCli(['feed', 'set', 'crm', key!, value!], env)).code).toBe(0);
      }
      const secret = await runCli(['feed', 'set', 'crm', 'pullPassword', '-', '--json'], env, 's3cret-pass\n');
      expect(secret.code).toBe(0);
      expect(JSON.parse(secret.stdout).secrets).toEqual({ pullPassword: 'set', pullToken: 'not set', pullClientSecret: 'not set', pullRefreshToken: 'not set' });
      expect(secret.stdout).not.toContain('s3cret');

      const synced = await runCli(['feed', 'sync', 'crm', '--json'], env);
      expect(synced.code).toBe(3); // held: the first run of the feed
      expect(JSON.parse(synced.stdout)).toMatchObject({ feed: 'crm', state: 'held', counts: { users: { created: 9 } } });
      const ctx = await openContext(loadConfig(env));
      try {
        const syncs = (await listAudit(ctx.database.knex, { limit: 50, offset: 0 })).entries.filter((e) => e.action === 'feed.sync');
        expect(syncs.map((e) => [e.actor, e.target, e.details])).toEqual([[`cli:${userInfo().username}`, 'feed crm', { run: JSON.parse(synced.stdout).id }]]);
      } finally {
        await ctx.database.close();
      }

      expect((await runCli(['feed', 'set', 'crm', 'schedule', 'every tuesday'], env)).stderr).toContain('schedule must be off, hourly, "daily HH:MM" or a cron expression of five fields (got "every tuesday")');
      const withoutKey = await runCli(['feed', 'set', 'crm', 'pullPassword', 'x'], { ...env, SLUICE_SECRET_KEY: '' });
      expect([withoutKey.code, withoutKey.stderr]).toEqual([1, expect.stringContaining('set SLUICE_SECRET_KEY to 32 random bytes')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
