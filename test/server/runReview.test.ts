import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { addFeed, findFeed, getFeed, updateFeedSettings } from '../../src/feeds/feeds.service.js';
import { enqueueMail } from '../../src/mail/outbox.service.js';
import { composeRunReport } from '../../src/mail/runReports.js';
import { approveRun } from '../../src/runs/runActions.js';
import { runFieldSummary } from '../../src/runs/fieldSummary.service.js';
import type { Run } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples, uploadSet } from '../helpers/uploads.js';

const password = 'correct horse battery staple';

describe.each(testDatabases)('the run review on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dropDatabase: () => Promise<void>;
  let viewer: AdminClient;
  let changes: Run;
  beforeAll(async () => {
    const created = await database.create();
    dropDatabase = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url });
    await addAdmin(server.ctx.database.knex, { email: 'viewer@example.org', role: 'viewer', password, actor: 'test' });
    viewer = new AdminClient(server.url);
    await viewer.signIn('viewer@example.org', password);
    if (!(await findFeed(server.ctx.database.knex, 'demo'))) await addFeed(server.ctx.database.knex, 'demo');
    await approveRun(server.ctx, (await importFolder(server.ctx, 'demo', join(samples, 'basic'))).id, 'test');
    changes = await importFolder(server.ctx, 'demo', join(samples, 'changes'));
  });
  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
  });

  it('sums each field the run changes on existing users, in the database, with examples', async () => {
    const summary = await runFieldSummary(server.ctx.database.knex, server.ctx.database.dialect, changes.id);
    const lastName = summary.find((s) => s.field === 'lastName');
    expect(lastName).toMatchObject({ changed: expect.any(Number), set: 0, cleared: 0 });
    expect(lastName!.changed).toBeGreaterThan(0);
    expect(lastName!.examples.length).toBeGreaterThan(0);
    expect(lastName!.examples.find((x) => x.key === 'u1001')?.after ?? lastName!.examples[0]!.after).toEqual(expect.any(String));
    expect(summary.some((s) => s.field === 'state')).toBe(false);
    // Every field changed by an update or reactivation is counted once per user.
    const updates = changes.counts.users.updated + changes.counts.users.reactivated;
    for (const s of summary) expect(s.set + s.changed + s.cleared).toBeLessThanOrEqual(updates);

    const page = (await viewer.get(`/admin/runs/${changes.id}`)).text;
    expect(page).toContain('Fields changed on existing users');
    expect(page).toMatch(/<td><code>lastName<\/code><\/td><td class="num">0<\/td><td class="num">\d+<\/td>/);
  });

  it('puts the per-field summary in the report e-mail', async () => {
    const feed = await getFeed(server.ctx.database.knex, 'demo');
    const report = await composeRunReport(server.ctx, changes, feed, 'test');
    expect(report.text).toContain('Fields changed on existing users:');
    expect(report.text).toMatch(/\n {2}lastName: changed for \d+ \(e\.g\. u\d+: "[^"]+" -> "[^"]+"\)\n/);
    expect(report.html).toContain('<code>lastName</code>');
  });

  it('names the users in the diff and the CSV, and finds them by part of a name, e-mail or key', async () => {
    const page = (await viewer.get(`/admin/runs/${changes.id}?change=user:update`)).text;
    expect(page).toContain('Schmidt-Weber');
    expect(page).toContain('ben.okafor1@example.org');
    expect(page).toContain('href="/admin/users?exact=1&amp;q=u1001"');
    for (const q of ['SCHMIDT', 'okafor1@', 'U1001']) {
      const found = (await viewer.get(`/admin/runs/${changes.id}?change=user:update&q=${encodeURIComponent(q)}`)).text;
      expect(found, q).toContain('ben.okafor1@example.org');
      expect(found, q).not.toContain('ada.okafor0@example.org');
    }
    const none = (await viewer.get(`/admin/runs/${changes.id}?q=${encodeURIComponent('%_nobody')}`)).text;
    expect(none).toContain('No changes match');
    const csv = (await viewer.get(`/admin/runs/${changes.id}/changes.csv`)).text;
    expect(csv.split(/\r?\n/)[0]).toBe('entity,operation,key,name,email,group,field,before,after');
    expect(csv).toContain('user,update,u1001,Ben Schmidt-Weber,ben.okafor1@example.org,,lastName,Okafor,Schmidt-Weber');
  });

  it('downloads a change set of more than one page whole, in the order it was computed, and nothing of other runs', async () => {
    const db = server.ctx.database.knex;
    const users = 2100; // the download reads 2000 changes a page
    const control = { version: 1, mode: 'full', files: { 'users.csv': { type: 'users' } }, users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST' } } };
    const usersCsv = (keys: string[]) => ['ID,EMAIL,FIRST,LAST', ...keys.map((k, i) => `${k},${k}@example.org,=Bulk${i},Last ${i}`)].join('\n') + '\n';
    await addFeed(db, 'bulk');
    const bulk = await importFolder(server.ctx, 'bulk', await uploadSet({ 'control.json': control, 'users.csv': usersCsv(Array.from({ length: users }, (_, i) => `b${i}`)) }));
    expect(bulk.counts.users.created).toBe(users);
    // A later run's changes come after the bulk run's last one.
    await addFeed(db, 'later');
    expect((await importFolder(server.ctx, 'later', await uploadSet({ 'control.json': control, 'users.csv': usersCsv(['later1']) }))).counts.users.created).toBe(1);

    const lines = (await viewer.get(`/admin/runs/${bulk.id}/changes.csv`)).text.split('\r\n');
    expect(lines.shift()).toBe('entity,operation,key,name,email,group,field,before,after');
    expect(lines.pop()).toBe('');
    const keysInOrder = lines.map((line) => line.split(',')[2]).filter((key, i, all) => key !== all[i - 1]);
    expect(keysInOrder).toEqual(await db('run_changes').where('run_id', bulk.id).orderBy('id').pluck('entity_key'));
    const fields = lines.filter((line) => line.startsWith('user,create,b7,')).map((line) => line.split(',')[6]);
    expect(fields).toEqual(expect.arrayContaining(['username', 'email', 'firstName', 'lastName']));
    expect(lines).toHaveLength(users * fields.length);
    expect(lines).toContain("user,create,b7,'=Bulk7 Last 7,b7@example.org,,firstName,,'=Bulk7");
  });

  it('shows a mapping-change hold as the mapping before and after, field by field', async () => {
    const control = JSON.parse(readFileSync(join(samples, 'changes', 'control.json'), 'utf8'));
    control.users.fields.country = { column: 'COUNTRY', transform: ['trim'] };
    delete control.users.fields['custom.department'];
    const dir = await uploadSet({ 'control.json': control, ...Object.fromEntries(['people.csv', 'groups.csv', 'memberships.csv'].map((f) => [f, readFileSync(join(samples, 'changes', f))])) });
    const run = await importFolder(server.ctx, 'demo', dir);
    expect(run.state).toBe('held');
    expect(run.holdReasons.map((r) => r.rule)).toContain('holdOnMappingChange');
    const page = (await viewer.get(`/admin/runs/${run.id}`)).text;
    const mapping = page.slice(page.indexOf('<table class="mapping">'), page.indexOf('</table>', page.indexOf('<table class="mapping">')));
    expect(mapping).toContain('<code>users.fields.country</code>');
    expect(mapping).toContain('&quot;transform&quot;:[&quot;trim&quot;]');
    expect(mapping).toMatch(/<code>users\.fields\.custom\.department<\/code><\/td><td class="mono">&quot;DEPT&quot;<\/td><td class="mono"><span class="muted">not mapped/);
    expect(mapping).not.toContain('users.fields.email');
  });

  it('leads a failed run with its errors by code, offers no re-apply of files that never validated; warns that held runs notify nobody', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'strict');
    await updateFeedSettings(db, 'strict', { maxErrorRows: '0' }, 'test');
    const failed = await importFolder(server.ctx, 'strict', join(samples, 'invalid', 'row-level'));
    expect(failed.state).toBe('failed');
    const operator = new AdminClient(server.url);
    await addAdmin(db, { email: 'operator@example.org', role: 'operator', password, actor: 'test' });
    await operator.signIn('operator@example.org', password);
    const page = (await operator.get(`/admin/runs/${failed.id}`)).text;
    const errorsAt = page.indexOf('id="errors-heading"');
    expect(errorsAt).toBeGreaterThan(0);
    expect(errorsAt).toBeLessThan(page.indexOf('id="facts-heading"'));
    expect(page).toContain('<li><code>key_duplicate</code>: 2</li>');
    expect(page).toContain('people.csv:7:2');
    expect(page).not.toContain('id="counts-heading"');
    expect(page).not.toContain('/confirm/reapply');
    expect(page).toContain('Re-validate');
    const errorsCsv = (await operator.get(`/admin/runs/${failed.id}/errors.csv`)).text.split('\r\n');
    expect(errorsCsv[0]).toBe('level,file,line,column,code,key,message');
    expect(errorsCsv.pop()).toBe('');
    expect(errorsCsv).toHaveLength(1 + failed.errorCount);
    expect(errorsCsv).toContain('row,people.csv,7,2,email_invalid,u1005,"""not-an-email"" is not a valid email address"');
    expect(errorsCsv).toContain('set,,,,too_many_errors,,5 rows have errors; the feed allows at most 0 (maxErrorRows)');
    const dashboard = (await viewer.get('/admin')).text;
    expect(dashboard).toMatch(/notify nobody[\s\S]*>strict<\/a>/);
    expect((await viewer.get('/admin/feeds/strict/settings')).text).toContain('Held runs of strict notify nobody');
    await updateFeedSettings(db, 'strict', { reportEmails: 'ops@example.org' }, 'test');
    expect((await viewer.get('/admin/feeds/strict/settings')).text).not.toContain('notify nobody');
  });

  it('looks users up by part of a name, e-mail or key, in any letter case, a page at a time', async () => {
    expect((await viewer.get('/admin/users?q=SCHMIDT')).text).toContain('href="/admin/feeds/demo/users/u1001"');
    const byEmail = await viewer.get('/admin/users?q=BEN.OKAFOR1%40');
    expect([byEmail.status, byEmail.location]).toEqual([302, '/admin/feeds/demo/users/u1001']);
    const many = (await viewer.get('/admin/users?q=EXAMPLE.ORG')).text;
    const total = Number(/([\d,]+) users match/.exec(many)![1]!.replace(/,/g, ''));
    expect(total).toBeGreaterThan(50);
    expect(many).toContain(`Page 1 of ${Math.ceil(total / 50)}`);
    expect(many).toContain('href="/admin/feeds/demo/users/u1000"');
    const second = (await viewer.get('/admin/users?q=example.org&page=2')).text;
    expect(second).not.toContain('href="/admin/feeds/demo/users/u1000"');
    expect((await viewer.get('/admin/users?q=example.ORG%25')).text).toContain('0 users match');
    const exact = await viewer.get('/admin/users?exact=1&q=u1001');
    expect(exact.location).toBe('/admin/feeds/demo/users/u1001');
    // The key is exact: another letter case is no user, and the page says it in those words.
    expect((await viewer.get('/admin/users?exact=1&q=U1001')).text).toContain('No user has this key or e-mail address.');
  });

  it('filters the audit log by who, what and feed, a page at a time', async () => {
    const db = server.ctx.database.knex;
    await addAdmin(db, { email: 'auditor@example.org', role: 'admin', password, actor: 'test' });
    const admin = new AdminClient(server.url);
    await admin.signIn('auditor@example.org', password);
    await updateFeedSettings(db, 'demo', { maxErrorRows: '7' }, 'Someone.Else@example.org');
    const byActor = (await admin.get('/admin/audit?actor=SOMEONE.else')).text;
    expect(byActor).toContain('1 matching actions');
    expect(byActor).toContain('someone.else@example.org'.replace('someone.else', 'Someone.Else'));
    const demo = (await admin.get('/admin/audit?feed=demo')).text;
    expect(demo).toContain('<td>feed demo</td>');
    expect(demo).toMatch(/<td>run \d+<\/td>/); // the runs of demo applied by "test"
    expect(demo).not.toContain('<td>feed strict</td>');
    const applies = (await admin.get('/admin/audit?action=run.apply')).text;
    expect(applies).not.toContain('<code>feed.settings</code>');
    expect(applies).toContain('<code>run.apply</code>');
  });

  it('opens a message of the outbox from the mail page', async () => {
    const db = server.ctx.database.knex;
    const report = await composeRunReport(server.ctx, changes, await getFeed(db, 'demo'), 'open-me');
    await enqueueMail(server.ctx, db, [{ ...report, to: ['ops@example.org'] }]);
    await addAdmin(db, { email: 'postmaster@example.org', role: 'admin', password, actor: 'test' });
    const admin = new AdminClient(server.url);
    await admin.signIn('postmaster@example.org', password);
    const list = (await admin.get('/admin/mail')).text;
    const [, id] = /href="\/admin\/mail\/(\d+)"/.exec(list)!;
    const message = (await admin.get(`/admin/mail/${id}`)).text;
    expect(message).toContain('ops@example.org');
    expect(message).toContain('Fields changed on existing users:');
    expect((await admin.get('/admin/mail/999999')).status).toBe(404);
    expect((await viewer.get(`/admin/mail/${id}`)).status).toBe(403);
  });
});
