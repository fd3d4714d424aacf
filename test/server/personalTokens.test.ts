import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin, setAdminRole } from '../../src/admins/admins.service.js';
import { createPersonalToken, revokePersonalToken } from '../../src/admins/personalTokens.service.js';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { addFeed, findFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { getRun } from '../../src/runs/runs.service.js';
import { artifacts, launchBrowser, overflow, signedIn, skipBrowser } from '../e2e/browser.js';
import { AdminClient } from '../helpers/admin.js';
import { runCli } from '../helpers/cli.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const password = 'correct horse battery staple';

describe.each(testDatabases)('personal API tokens and the run actions over HTTP on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dropDatabase: () => Promise<void>;
  let operatorToken: string;
  let operatorPrefix: string;
  let viewerToken: string;
  let revokedToken: string;
  let sourceKey: string;
  let appToken: string;
  const db = () => server.ctx.database.knex;
  const act = (runId: number, action: string, token: string | null, query = '') =>
    fetch(`${server.url}/api/v1/runs/${runId}/${action}${query}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  const acted = async (response: Response, status: number) => {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    return JSON.parse(text) as { id: number; state: string; statusUrl: string; error?: { code: string; message: string } };
  };
  const runState = async (id: number) => String((await db()('runs').where({ id }).first('state')).state);

  beforeAll(async () => {
    const created = await database.create();
    dropDatabase = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url });
    for (const [email, role] of [['operator@example.org', 'operator'], ['demoted@example.org', 'operator'], ['boss@example.org', 'admin'], ['viewer@example.org', 'viewer']] as const) {
      await addAdmin(db(), { email, role, password, actor: 'test' });
    }
    if (!(await findFeed(db(), 'demo'))) await addFeed(db(), 'demo');
    const operator = await createPersonalToken(db(), 'operator@example.org', { label: 'ci', actor: 'test' });
    operatorToken = operator.token;
    operatorPrefix = operator.personalToken.prefix;
    // A token carries its account's role as it is when used: a demoted operator's token is a viewer's.
    viewerToken = (await createPersonalToken(db(), 'demoted@example.org', { actor: 'test' })).token;
    await setAdminRole(db(), 'demoted@example.org', 'viewer', 'test');
    const revoked = await createPersonalToken(db(), 'boss@example.org', { actor: 'test' });
    await revokePersonalToken(db(), revoked.personalToken.prefix, { actor: 'test' });
    revokedToken = revoked.token;
    sourceKey = (await createApiKey(db(), 'demo')).key;
    appToken = (await createAppToken(db(), { name: 'portal', feeds: ['demo'], scope: 'write' })).token;
  });
  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
  });

  it("applies a held run with an operator's token, audited as the token and its account; every other credential is refused", async () => {
    const held = await importFolder(server.ctx, 'demo', join(samples, 'basic'));
    expect(held.state).toBe('held');

    expect((await acted(await act(held.id, 'apply', null), 401)).error!.code).toBe('unauthorized');
    expect((await acted(await act(held.id, 'apply', viewerToken), 403)).error!.message).toMatch(/viewer/);
    expect((await acted(await act(held.id, 'apply', revokedToken), 401)).error!.code).toBe('unauthorized');
    // A source must never approve its own run, and an application token does not steer runs.
    expect([401, 403]).toContain((await act(held.id, 'apply', sourceKey)).status);
    expect([401, 403]).toContain((await act(held.id, 'apply', appToken)).status);
    expect(await runState(held.id)).toBe('held');
    expect(await viewerCannotCreate()).toBe(true);

    const applied = await acted(await act(held.id, 'apply', operatorToken), 200);
    expect(applied).toMatchObject({ id: held.id, state: 'applied', statusUrl: expect.stringContaining(`/api/v1/runs/${held.id}`) });
    expect(await runState(held.id)).toBe('applied');
    const audit = await db()('audit_log').where({ action: 'run.apply', target: `run ${held.id}` });
    expect(audit.map((a) => a.actor)).toEqual([`token:${operatorPrefix} (operator@example.org)`]);
    // The same document as GET /api/v1/runs/<id> gives the feed's source.
    const status = await fetch(`${server.url}/api/v1/runs/${held.id}`, { headers: { authorization: `Bearer ${sourceKey}` } });
    expect({ ...(await status.json()) }).toEqual(applied);
  });

  async function viewerCannotCreate() {
    return createPersonalToken(db(), 'viewer@example.org', { actor: 'test' }).then(
      () => false,
      (error: { code?: string }) => error.code === 'forbidden',
    );
  }

  it('refuses a personal token on uploads and on the directory API', async () => {
    const upload = await fetch(`${server.url}/api/v1/feeds/demo/files/users.csv`, { method: 'PUT', headers: { authorization: `Bearer ${operatorToken}` }, body: 'x' });
    expect(upload.status).toBe(401);
    expect(((await upload.json()) as { error: { message: string } }).error.message).toMatch(/personal API token acts on runs only/);
    const users = await fetch(`${server.url}/api/v1/feeds/demo/users`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(users.status).toBe(401);
    const runs = await fetch(`${server.url}/api/v1/feeds/demo/runs`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(runs.status).toBe(401);
  });

  it('cancels, re-applies and re-validates from the right states and answers 409 from the wrong ones', async () => {
    const applied = Number((await db()('runs').where({ state: 'applied' }).first('id')).id);
    expect((await acted(await act(applied, 'apply', operatorToken), 409)).error!.code).toBe('invalid_state');
    expect((await acted(await act(applied, 'revalidate', operatorToken), 409)).error!.code).toBe('invalid_state');
    expect((await acted(await act(applied, 'cancel', operatorToken), 409)).error!.code).toBe('invalid_state');
    expect((await acted(await act(applied, 'frobnicate', operatorToken), 404)).error!.code).toBe('not_found');
    expect((await acted(await act(999999, 'apply', operatorToken), 404)).error!.code).toBe('not_found');

    const copy = await acted(await act(applied, 'reapply', operatorToken), 200);
    expect(copy.id).not.toBe(applied);
    expect((await db()('runs').where({ id: copy.id }).first()).reapply_of).toBe(applied);

    const failed = await importFolder(server.ctx, 'demo', join(samples, 'invalid', 'set-level'));
    expect(failed.state).toBe('failed');
    const again = await acted(await act(failed.id, 'revalidate', operatorToken), 200);
    expect(again).toMatchObject({ id: failed.id, state: 'failed' });
    expect(await db()('audit_log').where({ action: 'run.revalidate', target: `run ${failed.id}` }).pluck('actor')).toEqual([`token:${operatorPrefix} (operator@example.org)`]);

    // A set still arriving: cancelled plainly; "unsafe" is only for a run in progress.
    const put = await fetch(`${server.url}/api/v1/feeds/demo/files/users.csv`, { method: 'PUT', headers: { authorization: `Bearer ${sourceKey}` }, body: 'key,email\n' });
    expect(put.status).toBe(201);
    const receiving = ((await put.json()) as { run: { id: number; state: string } }).run;
    expect(receiving.state).toBe('receiving');
    expect((await acted(await act(receiving.id, 'cancel', operatorToken, '?unsafe=true'), 409)).error!.code).toBe('invalid_state');
    expect(await acted(await act(receiving.id, 'cancel', operatorToken), 200)).toMatchObject({ id: receiving.id, state: 'cancelled' });

    // A run a worker is validating: only the explicit unsafe cancel, as the page's confirmation.
    const put2 = await fetch(`${server.url}/api/v1/feeds/demo/files/users.csv`, { method: 'PUT', headers: { authorization: `Bearer ${sourceKey}` }, body: 'key,email\n' });
    const busy = ((await put2.json()) as { run: { id: number } }).run.id;
    await db()('runs').where({ id: busy }).update({ state: 'validating' });
    expect((await acted(await act(busy, 'cancel', operatorToken), 409)).error!.code).toBe('invalid_state');
    expect(await acted(await act(busy, 'cancel', operatorToken, '?unsafe=true'), 200)).toMatchObject({ id: busy, state: 'cancelled' });
    expect(await db()('audit_log').where({ action: 'run.cancel-unsafe', target: `run ${busy}` }).pluck('actor')).toEqual([`token:${operatorPrefix} (operator@example.org)`]);
  });

  it('creates a token on the account page, shown once; its owner or an admin revokes it, another operator cannot', async () => {
    const page = new AdminClient(server.url);
    await page.signIn('operator@example.org', password);
    const created = await page.post('/admin/account/tokens', { label: 'deploy script' });
    expect(created.status).toBe(201);
    const token = /(sluiceadm_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{32})/.exec(created.text)?.[1];
    expect(token).toBeDefined();
    const prefix = token!.slice(0, 22);
    const later = await page.get('/admin/account');
    expect(later.status).toBe(200);
    expect(later.text).toContain(prefix);
    expect(later.text).not.toContain(token);
    const stored = await db()('personal_tokens').where({ prefix }).first();
    expect(stored.token_hash).not.toContain(token!.slice(prefix.length + 1));

    const held = await db()('runs').where({ state: 'applied' }).first('id');
    expect((await act(Number(held.id), 'apply', token!)).status).toBe(409);

    const other = new AdminClient(server.url);
    await other.signIn('viewer@example.org', password);
    expect((await other.get('/admin/account')).status).toBe(403);
    await addAdmin(db(), { email: 'other@example.org', role: 'operator', password, actor: 'test' });
    const otherOperator = new AdminClient(server.url);
    await otherOperator.signIn('other@example.org', password);
    expect((await otherOperator.post(`/admin/account/tokens/${prefix}/revoke`)).status).toBe(404);
    expect((await act(Number(held.id), 'apply', token!)).status).toBe(409);

    const boss = new AdminClient(server.url);
    await boss.signIn('boss@example.org', password);
    expect((await boss.get('/admin/account')).text).toContain(prefix);
    const revoked = await boss.post(`/admin/account/tokens/${prefix}/revoke`);
    expect(revoked.status).toBe(302);
    expect((await act(Number(held.id), 'apply', token!)).status).toBe(401);
    expect(await db()('audit_log').where({ action: 'personal-token.revoke', target: prefix }).pluck('actor')).toEqual(['boss@example.org']);
  });

  it('lists the four run actions in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
    for (const action of ['apply', 'cancel', 'reapply', 'revalidate']) {
      expect(Object.keys(doc.paths[`/api/v1/runs/{id}/${action}`]?.post?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202', '403', '409']));
    }
  });
});

describe.skipIf(skipBrowser)('the account page in a real browser', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
    await addAdmin(server.ctx.database.knex, { email: 'operator@example.org', role: 'operator', password, actor: 'test' });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('creates a token shown once that applies a held run, then revokes it', async () => {
    const held = await importFolder(server.ctx, 'demo', join(samples, 'basic'));
    expect(held.state).toBe('held');
    const page = await signedIn(browser, server.url, 'operator@example.org', password);
    await page.getByRole('link', { name: 'operator@example.org' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByLabel('Label (what uses it)').fill('nightly job');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('[data-token]').textContent())!.trim();
    expect(token).toMatch(/^sluiceadm_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{32}$/);
    await page.screenshot({ path: join(artifacts, 'account-token-created.png'), fullPage: true });
    // The long token and the API line fit a phone's width too.
    await page.setViewportSize({ width: 390, height: 900 });
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(artifacts, 'account-token-created-390.png'), fullPage: true });

    const apply = await fetch(`${server.url}/api/v1/runs/${held.id}/apply`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(apply.status).toBe(200);
    expect(((await apply.json()) as { state: string }).state).toBe('applied');

    await page.goto(`${server.url}/admin/account`);
    expect(await page.content()).not.toContain(token);
    await page.getByRole('row', { name: /nightly job/ }).getByRole('link', { name: 'Revoke…' }).click();
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row', { name: /nightly job/ }).getByText(/revoked/).waitFor();
    const refused = await fetch(`${server.url}/api/v1/runs/${held.id}/reapply`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(401);
  });
});

describe('sluice admin token', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
    await addAdmin(server.ctx.database.knex, { email: 'operator@example.org', role: 'operator', password, actor: 'test' });
    await addAdmin(server.ctx.database.knex, { email: 'viewer@example.org', role: 'viewer', password, actor: 'test' });
  });
  afterAll(async () => server?.stop());

  it('creates a token shown once and stored hashed, lists it by account without the secret, revokes it by prefix', async () => {
    const env = { SLUICE_DATA_DIR: server.dataDir };
    const created = await runCli(['admin', 'token', 'create', 'operator@example.org', '--label', 'deploys'], env);
    expect(created.code, created.stderr).toBe(0);
    const token = /token: (sluiceadm_\S+)/.exec(created.stdout)![1]!;
    const prefix = token.slice(0, 22);
    const stored = await server.ctx.database.knex('personal_tokens').where({ prefix }).first();
    expect(JSON.stringify(stored)).not.toContain(token.slice(23));
    const listed = await runCli(['admin', 'token', 'list', 'operator@example.org'], env);
    expect(listed.stdout).toMatch(new RegExp(`${prefix}  operator@example.org  deploys  created \\d{4}-`));
    expect(listed.stdout).not.toContain(token);
    const held = await importFolder(server.ctx, 'demo', join(samples, 'basic'));
    expect((await runCli(['admin', 'token', 'revoke', prefix], env)).code).toBe(0);
    expect((await fetch(`${server.url}/api/v1/runs/${held.id}/apply`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const viewer = await runCli(['admin', 'token', 'create', 'viewer@example.org'], env);
    expect(viewer.code).not.toBe(0);
    expect(viewer.stderr).toMatch(/viewer/);
  });
});

// The action is made to outlast the request by holding a table lock it needs from another
// connection: MariaDB's locks wait without blocking Node, unlike SQLite's synchronous busy wait.
describe.each(testDatabases.filter((d) => d.name === 'mysql'))('a run action that outlasts the request on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let created: Awaited<ReturnType<typeof database.create>>;
  let lock: Knex;
  beforeAll(async () => {
    created = await database.create();
    server = await startTestServer({ DATABASE_URL: created.url });
    await addAdmin(server.ctx.database.knex, { email: 'operator@example.org', role: 'operator', password, actor: 'test' });
    lock = knexFactory({ client: 'mysql2', connection: created.url, pool: { min: 1, max: 1 } });
  });
  afterAll(async () => {
    await lock?.destroy();
    await server?.stop();
    await created?.drop();
  });

  it('answers 202 with the run while the apply goes on, and the run ends applied', async () => {
    if (!(await findFeed(server.ctx.database.knex, 'demo'))) await addFeed(server.ctx.database.knex, 'demo');
    const held = await importFolder(server.ctx, 'demo', join(samples, 'basic'));
    expect(held.state).toBe('held');
    const { token } = await createPersonalToken(server.ctx.database.knex, 'operator@example.org', { actor: 'test' });
    const post = (action: string) => fetch(`${server.url}/api/v1/runs/${held.id}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    // Used once first, so that its "last used" time is written before the lock is taken.
    expect((await post('revalidate')).status).toBe(409);
    await lock.raw('LOCK TABLES audit_log WRITE');
    let response: Response;
    try {
      response = await post('apply');
    } finally {
      await lock.raw('UNLOCK TABLES');
    }
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: number; state: string; statusUrl: string };
    expect(body).toMatchObject({ id: held.id, state: 'held', statusUrl: expect.stringContaining(`/api/v1/runs/${held.id}`) });
    await until('the run is applied', async () => (await getRun(server.ctx.database.knex, held.id)).state === 'applied');
  });
});
