import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin, type AdminRole } from '../../src/admins/admins.service.js';
import { listAudit } from '../../src/audit/audit.service.js';
import { addFeed, getFeed } from '../../src/feeds/feeds.service.js';
import { startRun } from '../../src/pipeline/intake.js';
import { getRun, type Run } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { sluice } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples, uploadSet, usersControl, usersCsv } from '../helpers/uploads.js';

const password = 'correct horse battery staple';
const roles: AdminRole[] = ['viewer', 'operator', 'admin'];
type Who = AdminRole | 'nobody';

describe.each(testDatabases)('admin pages on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dropDatabase: () => Promise<void>;
  const clients = {} as Record<Who, AdminClient>;
  let held: Run;
  const db = () => server.ctx.database.knex;
  let feedCount = 0;

  /** A new feed whose first run, the basic sample, is held. */
  async function heldRun(): Promise<Run> {
    const slug = `f${++feedCount}`;
    await addFeed(db(), slug);
    const run = await importFolder(server.ctx, slug, join(samples, 'basic'));
    expect(run.state).toBe('held');
    return run;
  }

  beforeAll(async () => {
    const created = await database.create();
    dropDatabase = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url });
    for (const role of roles) await addAdmin(db(), { email: `${role}@example.org`, role, password, actor: 'test' });
    clients.nobody = new AdminClient(server.url);
    for (const role of roles) {
      clients[role] = new AdminClient(server.url);
      expect((await clients[role].signIn(`${role}@example.org`, password)).location).toBe('/admin');
    }
    held = await heldRun();
  });
  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
  });

  const pages = (): [string, AdminRole][] => [
    ['/admin', 'viewer'],
    ['/admin/runs?feed=f1&state=held', 'viewer'],
    [`/admin/runs/${held.id}`, 'viewer'],
    [`/admin/runs/${held.id}/changes.csv`, 'viewer'],
    [`/admin/runs/${held.id}/errors.csv`, 'viewer'],
    [`/admin/runs/${held.id}/files/people.csv`, 'viewer'],
    [`/admin/runs/${held.id}/confirm/apply`, 'operator'],
    ['/admin/feeds/f1/settings', 'viewer'],
    ['/admin/users?q=u1000', 'viewer'],
    ['/admin/groups?feed=f1', 'viewer'],
    ['/admin/feeds/f1/keys', 'admin'],
    ['/admin/audit', 'admin'],
    ['/admin/mail?state=pending', 'admin'],
    ['/admin/accounts', 'admin'],
  ];

  it('serves every page to the roles allowed to see it, refuses the others, and sends the signed-out to sign in', async () => {
    for (const [path, needed] of pages()) {
      const anonymous = await clients.nobody.get(path);
      expect([anonymous.status, anonymous.location], path).toEqual([302, `/admin/sign-in?next=${encodeURIComponent(path)}`]);
      for (const role of roles) {
        const response = await clients[role].get(path);
        const allowed = roles.indexOf(role) >= roles.indexOf(needed);
        expect(response.status, `${role} ${path}`).toBe(allowed ? 200 : 403);
        if (!allowed) expect(response.text).toContain(`this needs the ${needed} role`);
      }
    }
  });

  it('refuses every action to the signed-out, to lower roles and to forms without the session token, changing nothing', async () => {
    const adminId = String((await db()('admins').where({ email: 'admin@example.org' }).first('id')).id);
    const actions: [string, AdminRole][] = [
      [`/admin/runs/${held.id}/apply`, 'operator'],
      [`/admin/runs/${held.id}/cancel`, 'operator'],
      [`/admin/runs/${held.id}/mark-cancelled`, 'operator'],
      [`/admin/runs/${held.id}/reapply`, 'operator'],
      [`/admin/runs/${held.id}/revalidate`, 'operator'],
      ['/admin/feeds/f1/settings', 'admin'],
      ['/admin/feeds/f1/keys', 'admin'],
      ['/admin/feeds/f1/keys/1/revoke', 'admin'],
      ['/admin/accounts', 'admin'],
      [`/admin/accounts/${adminId}/remove`, 'admin'],
      ['/admin/sign-out', 'viewer'],
    ];
    const before = { run: await getRun(db(), held.id), audit: (await listAudit(db(), { limit: 1, offset: 0 })).total };
    for (const [path, needed] of actions) {
      expect((await clients.nobody.post(path, {}, { csrf: 'x' })).status, `nobody ${path}`).toBe(401);
      for (const role of roles) {
        if (roles.indexOf(role) < roles.indexOf(needed)) expect((await clients[role].post(path)).status, `${role} ${path}`).toBe(403);
        else {
          expect((await clients[role].post(path, {}, { csrf: false })).status, `${role} ${path} without token`).toBe(403);
          expect((await clients[role].post(path, {}, { csrf: 'forged-token' })).status, `${role} ${path} with a wrong token`).toBe(403);
        }
      }
    }
    expect(await getRun(db(), held.id)).toEqual(before.run);
    expect((await listAudit(db(), { limit: 1, offset: 0 })).total).toBe(before.audit);
  });

  it('shows a held run in one page: reasons with numbers, counts, diff preview with paging, files, control file', async () => {
    const page = (await clients.viewer.get(`/admin/runs/${held.id}`)).text;
    expect(page).toContain('Held because');
    expect(page).toContain('<strong>holdFirstRun</strong>');
    expect(page).toMatch(/users created<\/a><\/td><td class="num">150</);
    expect(page).toMatch(/memberships added<\/a><\/td><td class="num">295</);
    expect(page).toContain('Page 1 of 9'); // 450 changes, 50 a page
    expect(page).toContain('href="/admin/runs/' + held.id + '/files/people.csv"');
    expect(page).toContain('&quot;version&quot;: 1');
    expect(page).toContain('Your role (viewer) can look but not act on runs.');
    expect(page).not.toContain('http-equiv="refresh"');
    const filtered = (await clients.viewer.get(`/admin/runs/${held.id}?entity=user&op=create&page=3`)).text;
    expect(filtered).toContain('Page 3 of 3');
    expect(filtered).toMatch(/<td rowspan="\d+" class="op-add">user create<\/td>/);
    expect(filtered).not.toContain('>membership<');
    // A page past the end (an old link) says so and links the last one.
    const past = (await clients.viewer.get(`/admin/runs/${held.id}?page=99`)).text;
    expect(past).toContain(`There is no page 99: the last is <a href="/admin/runs/${held.id}?page&#x3D;9">page 9</a> (450 in all)`);
    expect(past).not.toContain('Page 99 of 9');
    const operatorView = (await clients.operator.get(`/admin/runs/${held.id}`)).text;
    expect(operatorView).toContain(`href="/admin/runs/${held.id}/confirm/apply"`);
    expect(operatorView).toContain(`href="/admin/runs/${held.id}/confirm/cancel"`);
  });

  it('follows a run that is still in progress by refreshing its page', async () => {
    const feed = await getFeed(db(), 'f1');
    const receiving = await startRun(server.ctx, feed, 'http');
    const page = (await clients.viewer.get(`/admin/runs/${receiving.id}`)).text;
    expect(page).toContain('<meta http-equiv="refresh" content="2">');
    expect(page).toContain('In progress: <strong>receiving files (http)</strong>');
  });

  it('applies a held run only for an operator with a valid CSRF token, after a confirmation page', async () => {
    const run = await heldRun();
    const confirm = await clients.operator.get(`/admin/runs/${run.id}/confirm/apply`);
    expect(confirm.text).toContain(`Apply run ${run.id} to the directory.`);
    expect(confirm.text).toContain('<td>users created</td><td class="num op-add">150</td>');
    expect(confirm.text).toContain('<td>memberships added</td><td class="num op-add">295</td>');
    expect(confirm.text).toContain(`action="/admin/runs/${run.id}/apply"`);

    expect((await clients.nobody.post(`/admin/runs/${run.id}/apply`, {}, { csrf: 'anything' })).status).toBe(401);
    const viewer = await clients.viewer.post(`/admin/runs/${run.id}/apply`);
    expect(viewer.status).toBe(403);
    const missing = await clients.operator.post(`/admin/runs/${run.id}/apply`, {}, { csrf: false });
    expect([missing.status, missing.text.includes('this form has expired')]).toEqual([403, true]);
    const wrong = await clients.operator.post(`/admin/runs/${run.id}/apply`, {}, { csrf: await clients.admin.csrf() });
    expect(wrong.status).toBe(403);
    expect((await getRun(db(), run.id)).state).toBe('held');

    const applied = await clients.operator.post(`/admin/runs/${run.id}/apply`);
    expect([applied.status, applied.location]).toEqual([302, `/admin/runs/${run.id}`]);
    expect((await getRun(db(), run.id)).state).toBe('applied');
    const after = await clients.operator.get(`/admin/runs/${run.id}`);
    expect(after.text).toContain(`Apply: run ${run.id} is now applied.`);
    expect(after.text).toContain('approved; applying <span class="muted">(operator@example.org)</span>');
    const again = await clients.operator.post(`/admin/runs/${run.id}/apply`);
    expect((await clients.operator.get(again.location!)).text).toContain(`run ${run.id} is applied; apply needs it to be held`);
    expect((await listAudit(db(), { limit: 50, offset: 0 })).entries).toContainEqual(expect.objectContaining({ actor: 'operator@example.org', action: 'run.apply', target: `run ${run.id}` }));
  });

  it('cancels, re-applies and re-validates for operators and admins, not viewers', async () => {
    const run = await heldRun();
    expect((await clients.viewer.post(`/admin/runs/${run.id}/cancel`)).status).toBe(403);
    expect((await clients.operator.post(`/admin/runs/${run.id}/cancel`)).status).toBe(302);
    expect((await getRun(db(), run.id)).state).toBe('cancelled');

    expect((await clients.viewer.post(`/admin/runs/${run.id}/reapply`)).status).toBe(403);
    const reapplied = await clients.admin.post(`/admin/runs/${run.id}/reapply`);
    const newId = Number(/\/admin\/runs\/(\d+)$/.exec(reapplied.location!)![1]);
    expect(newId).toBeGreaterThan(run.id);
    expect(await getRun(db(), newId)).toMatchObject({ reapplyOf: run.id, forceUpdate: true, state: 'held' });

    // An application's run has no source files: no Re-apply offered, and a forced one is refused on the page.
    const appRun = await startRun(server.ctx, await getFeed(db(), 'f1'), 'app');
    await db()('runs').where({ id: appRun.id }).update({ state: 'applied' });
    expect((await clients.admin.get(`/admin/runs/${appRun.id}`)).text).not.toContain(`/admin/runs/${appRun.id}/reapply`);
    const refused = await clients.admin.post(`/admin/runs/${appRun.id}/reapply`);
    expect((await clients.admin.get(refused.location!)).text).toContain(`run ${appRun.id} is an app run; only a source&#x27;s runs can be re-applied`);
    expect((await db()('runs').where({ reapply_of: appRun.id }).first('id'))).toBeUndefined();

    await addFeed(db(), 'broken');
    const dir = await uploadSet({ 'control.json': usersControl({ feed: 'broken' }), 'users.csv': usersCsv([['u1', 'not-an-email', 'A', 'B']]) });
    const failed = await importFolder(server.ctx, 'broken', dir);
    expect(failed.state).toBe('failed');
    expect((await clients.viewer.post(`/admin/runs/${failed.id}/revalidate`)).status).toBe(403);
    expect((await clients.operator.post(`/admin/runs/${failed.id}/revalidate`)).status).toBe(302);
    expect((await getRun(db(), failed.id)).attempts).toBe(0);
    expect((await clients.operator.get(`/admin/runs/${failed.id}`)).text).toContain('re-validating the same files');

    expect((await clients.operator.post(`/admin/runs/${failed.id}/mark-cancelled`)).status).toBe(302);
    expect((await clients.operator.get(`/admin/runs/${failed.id}`)).text).toMatch(/is (failed|held|applied); mark cancelled \(unsafe\) needs it to be validating or applying/);
  });

  it('saves feed settings for admins only, all or nothing, with readable errors and an audit entry', async () => {
    expect((await clients.operator.post('/admin/feeds/f1/settings', { maxUserRemovals: '10' })).status).toBe(403);
    const invalid = await clients.admin.post('/admin/feeds/f1/settings', { maxUserRemovals: '10', maxUserUpdatePercent: '150', reportEmails: 'ops@example.org, nope' });
    expect(invalid.status).toBe(400);
    expect(invalid.text).toContain('maxUserUpdatePercent must be a percentage from 0 to 100 (got &quot;150&quot;)');
    expect(invalid.text).toContain('reportEmails: &quot;nope&quot; is not an email address');
    expect((await getFeed(db(), 'f1')).settings.maxUserRemovals).toBe(500);

    const saved = await clients.admin.post('/admin/feeds/f1/settings', { maxUserRemovals: '10', autoApply: 'false', reportEmails: 'ops@example.org' });
    expect([saved.status, saved.location]).toEqual([302, '/admin/feeds/f1/settings']);
    expect((await getFeed(db(), 'f1')).settings).toMatchObject({ maxUserRemovals: 10, autoApply: false, reportEmails: ['ops@example.org'], holdFirstRun: true });
    expect((await listAudit(db(), { limit: 50, offset: 0 })).entries).toContainEqual(
      expect.objectContaining({ actor: 'admin@example.org', action: 'feed.settings', details: { maxUserRemovals: { before: 500, after: 10 }, autoApply: { before: true, after: false }, reportEmails: { before: [], after: ['ops@example.org'] } } }),
    );
    expect((await clients.viewer.get('/admin/feeds/f1/settings')).text).toContain('<fieldset disabled>');
    expect((await clients.admin.get('/admin/audit')).text).toContain('feed.settings');
  });

  it('creates an API key that is shown once and revokes it after a confirmation, for admins only', async () => {
    expect((await clients.operator.post('/admin/feeds/f1/keys', { label: 'hr system' })).status).toBe(403);
    const created = await clients.admin.post('/admin/feeds/f1/keys', { label: 'hr system' });
    expect(created.status).toBe(201);
    const key = /<p class="secret mono">([^<]+)<\/p>/.exec(created.text)![1]!;
    const upload = () => fetch(`${server.url}/api/v1/feeds/f1/runs`, { headers: { authorization: `Bearer ${key}` } });
    expect((await upload()).status).toBe(200);
    const list = await clients.admin.get('/admin/feeds/f1/keys');
    expect(list.text).not.toContain(key);
    const id = /\/keys\/(\d+)\/revoke/.exec(list.text)![1];
    expect((await clients.admin.get(`/admin/feeds/f1/keys/${id}/revoke`)).text).toContain('This cannot be undone.');
    expect((await clients.operator.post(`/admin/feeds/f1/keys/${id}/revoke`)).status).toBe(403);
    expect((await clients.admin.post(`/admin/feeds/f1/keys/${id}/revoke`)).status).toBe(302);
    expect((await upload()).status).toBe(401);
  });

  it('adds and removes accounts for admins only; the last admin cannot be removed', async () => {
    expect((await clients.operator.post('/admin/accounts', { email: 'new@example.org', role: 'viewer' })).status).toBe(403);
    const added = await clients.admin.post('/admin/accounts', { email: 'New@Example.org', role: 'operator' });
    expect(added.status).toBe(201);
    const generated = /<p class="secret mono">([^<]+)<\/p>/.exec(added.text)![1]!;
    const newcomer = new AdminClient(server.url);
    expect((await newcomer.signIn('new@example.org', generated)).location).toBe('/admin');
    const id = /\/admin\/accounts\/(\d+)\/remove/.exec((await clients.admin.get('/admin/accounts')).text.split('new@example.org')[1]!)![1];
    expect((await clients.admin.post(`/admin/accounts/${id}/remove`)).status).toBe(302);
    expect((await newcomer.get('/admin')).location).toMatch(/^\/admin\/sign-in/);
    const adminId = (await db()('admins').where({ email: 'admin@example.org' }).first('id')).id;
    await db()('admins').whereNot({ email: 'admin@example.org' }).where({ role: 'admin' }).update({ role: 'operator' });
    await clients.admin.post(`/admin/accounts/${adminId}/remove`);
    expect((await clients.admin.get('/admin/accounts')).text).toContain('this is the last account with the admin role');
  });

  it('looks users up by key or email and shows fields, groups, raw record and history', async () => {
    const applyAll = async (feed: string, rows: Parameters<typeof usersCsv>[0]) => {
      const run = await importFolder(server.ctx, feed, await uploadSet({ 'control.json': usersControl({ feed }), 'users.csv': usersCsv(rows) }));
      expect(run.state).toBe('applied');
    };
    for (const feed of ['lookup-a', 'lookup-b']) {
      await addFeed(db(), feed, { settings: { holdFirstRun: false } });
      await applyAll(feed, [['lk-1', 'lou.kup@example.org', 'Lou', 'Kup', 'staff;lab']]);
    }
    await applyAll('lookup-b', [['lk-1', 'lou.kup@example.org', 'Louise', 'Kup', 'staff']]);

    const both = await clients.viewer.get('/admin/users?q=LOU.KUP%40EXAMPLE.ORG');
    expect(both.text).toContain('href="/admin/feeds/lookup-a/users/lk-1"');
    expect(both.text).toContain('href="/admin/feeds/lookup-b/users/lk-1"');
    await db()('directory_users').where({ user_key: 'lk-1', feed_id: (await getFeed(db(), 'lookup-a')).id }).update({ email: 'other@example.org' });
    const one = await clients.viewer.get('/admin/users?q=lou.kup%40example.org');
    expect([one.status, one.location]).toEqual([302, '/admin/feeds/lookup-b/users/lk-1']);
    expect((await clients.viewer.get('/admin/users?q=nobody')).text).toContain("No user's name, e-mail address or key contains this.");

    const user = (await clients.viewer.get('/admin/feeds/lookup-b/users/lk-1')).text;
    expect(user).toContain('<td>firstName</td><td>Louise</td><td>locked by the sync</td>');
    const groups = user.slice(user.indexOf('id="groups-heading"'), user.indexOf('Raw record'));
    expect(groups).toContain('<span class="mono">staff</span>');
    expect(groups).not.toContain('<span class="mono">lab</span>');
    expect(user).toContain('&quot;first&quot;: &quot;Louise&quot;');
    expect(user).toMatch(/user update<\/td><td>firstName<\/td><td class="before">Lou<\/td><td class="after">Louise<\/td>/);
    expect(user).toMatch(/membership remove <span class="mono">lab<\/span>/);
    expect((await clients.viewer.get('/admin/feeds/lookup-b/users/nobody')).status).toBe(404);
    expect((await clients.viewer.get('/admin/groups?feed=lookup-b')).text).toMatch(/<td><a class="mono" href="\/admin\/feeds\/lookup-b\/groups\/staff">staff<\/a><\/td><td>staff<\/td><td class="num">1<\/td>/);
    const members = (await clients.viewer.get('/admin/feeds/lookup-b/groups/staff')).text;
    expect(members).toContain('1 members');
    expect(members).toContain('<a href="/admin/feeds/lookup-b/users/lk-1">Louise Kup</a>');
    expect(members).toContain('lou.kup@example.org');
    expect((await clients.viewer.get('/admin/feeds/lookup-b/groups/nope')).status).toBe(404);
    // A feed that does not exist is said so, not replaced by the first feed's groups.
    const unknown = await clients.viewer.get('/admin/groups?feed=nofeed');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('<h1>Not found</h1>');
    expect(unknown.text).toContain('feed nofeed does not exist');
    expect(unknown.text).not.toContain('href="/admin/feeds/lookup-b/groups/staff"');
  });

  it('shows values from data files as text and neutralises formulas in CSV downloads', async () => {
    await addFeed(db(), 'hostile');
    const dir = await uploadSet({
      'control.json': usersControl({ feed: 'hostile' }),
      'users.csv': usersCsv([['<b>u1</b>', 'a@example.org', '=HYPERLINK("http://evil.example")', '<script>alert(1)</script>'], ['u2', 'b@example.org', '+1', '@SUM(A1)']]),
    });
    const run = await importFolder(server.ctx, 'hostile', dir);
    const page = (await clients.viewer.get(`/admin/runs/${run.id}`)).text;
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;b&gt;u1&lt;/b&gt;');
    const csv = await clients.viewer.get(`/admin/runs/${run.id}/changes.csv`);
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="run-${run.id}-changes.csv"`);
    expect(csv.text).toContain(`user,create,<b>u1</b>,"'=HYPERLINK(""http://evil.example"") <script>alert(1)</script>",a@example.org,,firstName,,"'=HYPERLINK(""http://evil.example"")"`);
    expect(csv.text).toContain("user,create,u2,'+1 @SUM(A1),b@example.org,,firstName,,'+1");
    expect(csv.text).toContain("user,create,u2,'+1 @SUM(A1),b@example.org,,lastName,,'@SUM(A1)");
    await clients.operator.post(`/admin/runs/${run.id}/apply`);
    const user = (await clients.viewer.get(`/admin/feeds/hostile/users/${encodeURIComponent('<b>u1</b>')}`)).text;
    expect(user).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('signs out, and refuses sign-in after too many failures for an account', async () => {
    const client = new AdminClient(server.url);
    expect((await client.signIn('viewer@example.org', 'wrong password!')).status).toBe(401);
    await addAdmin(db(), { email: 'target@example.org', role: 'viewer', password, actor: 'test' });
    for (let i = 0; i < 5; i++) expect((await client.signIn('target@example.org', `guess ${i} guess ${i}`)).status).toBe(401);
    const locked = await client.signIn('target@example.org', password);
    expect([locked.status, locked.text.includes('too many failed sign-ins')]).toEqual([429, true]);

    const forged = await client.request('POST', '/admin/sign-in', { _csrf: 'forged', email: 'viewer@example.org', password });
    expect(forged.status).toBe(403);

    const session = new AdminClient(server.url);
    await session.signIn('viewer@example.org', password);
    expect((await session.post('/admin/sign-out', {}, { csrf: false })).status).toBe(403);
    expect((await session.post('/admin/sign-out')).location).toBe('/admin/sign-in');
    expect((await session.get('/admin')).status).toBe(302);
    const cookie = (await new AdminClient(server.url).signIn('viewer@example.org', password)).headers.getSetCookie().find((c) => c.startsWith('sluice_session='))!;
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=lax/i);
  });
});

describe('the embedded default', () => {
  it('creates a first admin account on first start, prints its password once, and it signs in', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-first-'));
    const start = async () => {
      const child = sluice(['serve'], { SLUICE_DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '' });
      let out = '';
      child.child.stdout!.on('data', (d) => (out += d));
      await until('the server to start', async () => /Drop upload sets/.test(out));
      return { child, out: () => out };
    };
    const first = await start();
    try {
      const [, url] = /listening on (http:\/\/\S+)/.exec(first.out())!;
      const [, email, pw] = /First admin account: (\S+) {2}password: (\S+)/.exec(first.out())!;
      expect(email).toBe('admin@localhost');
      const client = new AdminClient(url!);
      expect((await client.signIn(email!, pw!)).location).toBe('/admin');
      expect((await client.get('/admin')).text).toMatch(/admin@localhost(<\/a>)? \(admin\)/); // a link to the account page for operators and admins
    } finally {
      first.child.child.kill('SIGTERM');
      await first.child.done;
    }
    const second = await start();
    second.child.child.kill('SIGTERM');
    await second.child.done;
    expect(second.out()).not.toContain('password');
    await rm(dataDir, { recursive: true, force: true });
  });
});
