import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { createAppToken, listAppTokens, revokeAppToken } from '../../src/apps/appTokens.service.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { AdminClient } from '../helpers/admin.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { copySample, importFolder } from '../helpers/uploads.js';

describe('application tokens and the directory read API', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let hrRead: string;
  let hrWrite: string;
  let salesRead: string;
  let sourceKey: string;
  const db = () => server.ctx.database.knex;
  const get = (path: string, token: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const json = async <T = Record<string, unknown>>(path: string, token: string) => {
    const response = await get(path, token);
    expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    server = await startTestServer();
    await addFeed(db(), 'hr', { settings: { holdFirstRun: false } });
    await addFeed(db(), 'sales', { settings: { holdFirstRun: false } });
    expect((await importFolder(server.ctx, 'hr', await copySample('basic'))).state).toBe('applied');
    expect((await importFolder(server.ctx, 'sales', await copySample('basic'))).state).toBe('applied');
    hrRead = (await createAppToken(db(), { name: 'portal', feeds: ['hr'], scope: 'read' })).token;
    hrWrite = (await createAppToken(db(), { name: 'crm', feeds: ['hr'], scope: 'write' })).token;
    salesRead = (await createAppToken(db(), { name: 'sales app', feeds: ['sales'], scope: 'read' })).token;
    sourceKey = (await createApiKey(db(), 'hr')).key;
  });
  afterAll(async () => server?.stop());

  it('pages every user of the feed once by a stable cursor, filtered by state and by update time', async () => {
    const keys: string[] = [];
    let next: string | null = null;
    do {
      const page: { items: { key: string; state: string }[]; next: string | null } = await json(`/api/v1/feeds/hr/users?limit=40${next ? `&after=${next}` : ''}`, hrRead);
      expect(page.items.length).toBeLessThanOrEqual(40);
      keys.push(...page.items.map((u) => u.key));
      next = page.next;
    } while (next);
    const inTable = (await db()('directory_users').join('feeds', 'feeds.id', 'directory_users.feed_id').where('feeds.slug', 'hr').pluck('user_key')) as string[];
    expect(keys.length).toBe(inTable.length);
    expect([...keys].sort()).toEqual([...inTable].sort());

    const suspended = await json<{ items: unknown[] }>('/api/v1/feeds/hr/users?state=suspended', hrRead);
    expect(suspended.items).toEqual([]);
    const future = await json<{ items: unknown[] }>('/api/v1/feeds/hr/users?updatedSince=2999-01-01T00:00:00Z', hrRead);
    expect(future.items).toEqual([]);
  });

  it('shows one user with fields, locked fields, groups and state; groups and their members', async () => {
    const user = await json<Record<string, unknown>>('/api/v1/feeds/hr/users/u1000', hrRead);
    expect(user).toMatchObject({ key: 'u1000', state: 'active', fields: { email: 'ada.okafor0@example.org', firstName: 'Ada', 'custom.department': 'Physics' } });
    expect(user.lockedFields).toEqual(expect.any(Array));
    expect((user.groups as { code: string }[]).map((g) => g.code)).toEqual(expect.arrayContaining(['staff', 'lab-a', 'lab-b']));
    expect((await get('/api/v1/feeds/hr/users/nobody', hrRead)).status).toBe(404);

    const groups = await json<{ items: { code: string; members: number }[] }>('/api/v1/feeds/hr/groups', hrRead);
    const labA = groups.items.find((g) => g.code === 'lab-a')!;
    const members = await json<{ items: { key: string }[] }>('/api/v1/feeds/hr/groups/lab-a/members?limit=1000', hrRead);
    expect(members.items.length).toBe(labA.members);
    expect(members.items.map((m) => m.key)).toContain('u1000');
  });

  it('reads the change log of the token\'s feeds only, as JSON and as NDJSON', async () => {
    const hrId = Number((await db()('feeds').where({ slug: 'hr' }).first('id')).id);
    const hrChanges = Number((await db()('directory_changes').where({ feed_id: hrId }).count({ n: '*' }))[0]!.n);
    const first = await json<{ changes: { feedId: number; commitSeq: number }[]; last: number }>('/api/v1/changes?limit=5', hrRead);
    expect(first.changes).toHaveLength(5);
    expect(first.changes.every((c) => c.feedId === hrId)).toBe(true);
    const rest = await json<{ changes: { commitSeq: number }[] }>(`/api/v1/changes?after=${first.last}&limit=10000`, hrRead);
    expect(first.changes.length + rest.changes.length).toBe(hrChanges);

    const ndjson = await get('/api/v1/changes', hrRead, { accept: 'application/x-ndjson' });
    expect(ndjson.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await ndjson.text()).trim().split('\n').map((l) => JSON.parse(l) as { feedId: number; commitSeq: number });
    expect(lines).toHaveLength(hrChanges);
    expect(lines.every((c) => c.feedId === hrId)).toBe(true);
    expect(lines.map((c) => c.commitSeq)).toEqual([...lines.map((c) => c.commitSeq)].sort((a, b) => a - b));
    const byParam = await get(`/api/v1/changes?format=ndjson&after=${lines[9]!.commitSeq}`, hrRead);
    expect((await byParam.text()).trim().split('\n')).toHaveLength(hrChanges - 10);
  });

  it('refuses a token for another feed, a revoked token, and a source API key on every read route', async () => {
    const routes = ['/api/v1/feeds/hr/users', '/api/v1/feeds/hr/users/u1000', '/api/v1/feeds/hr/groups', '/api/v1/feeds/hr/groups/staff/members'];
    for (const path of routes) {
      expect((await get(path, salesRead)).status, path).toBe(403);
      const refused = await get(path, sourceKey);
      expect(refused.status, path).toBe(401);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/source's API key cannot use the directory API/);
    }
    expect((await get('/api/v1/changes', sourceKey)).status).toBe(401);
    for (const path of ['/api/v1/feeds/hr/users/u1000/sync', '/api/v1/feeds/hr/app-changes']) {
      const refused = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${sourceKey}`, 'content-type': 'application/json' }, body: '{"changes":[]}' });
      expect(refused.status, path).toBe(401);
      expect((await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${hrRead}`, 'content-type': 'application/json' }, body: '{"changes":[]}' })).status, path).toBe(403);
      expect((await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${salesRead}`, 'content-type': 'application/json' }, body: '{"changes":[]}' })).status, path).toBe(403);
    }
    expect((await fetch(`${server.url}/api/v1/changes`)).status).toBe(401);

    const { token, appToken } = await createAppToken(db(), { name: 'doomed', feeds: ['hr'], scope: 'read' });
    expect((await get('/api/v1/feeds/hr/groups', token)).status).toBe(200);
    await revokeAppToken(db(), appToken.prefix);
    expect((await get('/api/v1/feeds/hr/groups', token)).status).toBe(401);
    const listed = (await listAppTokens(db())).find((t) => t.prefix === appToken.prefix)!;
    expect(listed.lastUsedAt).not.toBeNull();
    expect(listed.revokedAt).not.toBeNull();
  });

  it('refuses an application token on the upload routes and the run routes, whatever its scope', async () => {
    for (const token of [hrRead, hrWrite]) {
      const upload = await fetch(`${server.url}/api/v1/feeds/hr/files/people.csv`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${token}` } });
      expect(upload.status).toBe(401);
      expect((await get('/api/v1/feeds/hr/runs', token)).status).toBe(401);
      expect((await get('/api/v1/runs/1', token)).status).toBe(401);
      expect((await fetch(`${server.url}/api/v1/feeds/hr/sync`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    }
  });

  it('describes the read API, the change log, on-demand sync and app changes in the OpenAPI document, with the application token as their security', async () => {
    const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown }>>; components: { securitySchemes: Record<string, unknown> } };
    for (const [path, method] of [
      ['/api/v1/feeds/{feed}/users', 'get'],
      ['/api/v1/feeds/{feed}/users/{key}', 'get'],
      ['/api/v1/feeds/{feed}/users/{key}/sync', 'post'],
      ['/api/v1/feeds/{feed}/app-changes', 'post'],
      ['/api/v1/feeds/{feed}/groups', 'get'],
      ['/api/v1/feeds/{feed}/groups/{code}/members', 'get'],
      ['/api/v1/changes', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method]?.security, path).toEqual([{ appToken: [] }]);
    }
    expect(doc.components.securitySchemes.appToken).toBeDefined();
  });

  it('an administrator creates a token on the admin page (shown once), sees its last use, and revokes it; an operator may not', async () => {
    const password = 'correct horse battery staple';
    await addAdmin(db(), { email: 'root@example.org', role: 'admin', password, actor: 'test' });
    await addAdmin(db(), { email: 'op@example.org', role: 'operator', password, actor: 'test' });
    const admin = new AdminClient(server.url);
    expect((await admin.signIn('root@example.org', password)).location).toBe('/admin');
    const created = await admin.post('/admin/app-tokens', { name: 'intranet page', feeds: 'hr', scope: 'read' });
    expect(created.status).toBe(201);
    const token = /(sluiceapp_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{32})/.exec(created.text)![1]!;
    expect((await get('/api/v1/feeds/hr/groups', token)).status).toBe(200);
    const listing = await admin.get('/admin/app-tokens');
    expect(listing.text).not.toContain(token);
    expect(listing.text).toContain('intranet page');
    expect((await admin.post('/admin/app-tokens', { name: 'x', feeds: 'nope', scope: 'read' })).status).toBe(400);
    const id = (await listAppTokens(db())).find((t) => t.name === 'intranet page')!.id;
    expect((await admin.post(`/admin/app-tokens/${id}/revoke`)).status).toBe(302);
    expect((await get('/api/v1/feeds/hr/groups', token)).status).toBe(401);

    const operator = new AdminClient(server.url);
    await operator.signIn('op@example.org', password);
    expect((await operator.get('/admin/app-tokens')).status).toBe(403);
  });

  it('sluice app-token create shows the token once and stores it hashed; list shows feeds, scope and last use; revoke ends it', async () => {
    const env = { SLUICE_DATA_DIR: server.dataDir };
    const created = await runCli(['app-token', 'create', 'intranet', '--feeds', 'hr,sales', '--scope', 'read', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { token, prefix, feeds, scope } = JSON.parse(created.stdout) as { token: string; prefix: string; feeds: string[]; scope: string };
    expect({ feeds, scope }).toEqual({ feeds: ['hr', 'sales'], scope: 'read' });
    const stored = await db()('app_tokens').where({ prefix }).first();
    expect(JSON.stringify(stored)).not.toContain(token.slice(prefix.length + 1));
    expect((await get('/api/v1/feeds/sales/groups', token)).status).toBe(200);
    const listed = await runCli(['app-token', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`${prefix}  intranet  read  feeds hr,sales  last used \\d{4}-`));
    expect((await runCli(['app-token', 'revoke', prefix], env)).code).toBe(0);
    expect((await get('/api/v1/feeds/sales/groups', token)).status).toBe(401);
    const bad = await runCli(['app-token', 'create', 'x', '--feeds', 'hr', '--scope', 'admin'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/scope must be read or write/);
  });
});
