import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { runMailTick } from '../../src/mail/mailJob.js';
import { listOutbox } from '../../src/mail/outbox.service.js';
import { reapplyRun } from '../../src/runs/runActions.js';
import { toDbTime } from '../../src/storage/dialect.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { startSmtpServer, type SmtpTestServer } from '../helpers/smtp.js';
import { importFolder, samples, uploadSet, usersControl, usersCsv } from '../helpers/uploads.js';

const at = (iso: string) => new Date(iso);

describe.each(testDatabases)('mail on $name', (database) => {
  let smtp: SmtpTestServer;
  let env: TestEnv;
  let feeds = 0;
  const db = () => env.ctx.database.knex;
  const tick = (now = new Date()) => runMailTick(env.ctx, now);

  beforeAll(async () => {
    smtp = await startSmtpServer();
    env = await openTestEnv(database, { SMTP_URL: smtp.url, PUBLIC_URL: 'https://sluice.example.org', MAIL_FROM: 'Sluice <sluice@example.org>', SLUICE_LEASE_SECONDS: '5' });
  });
  afterAll(async () => {
    await env?.close();
    await smtp?.stop();
  });
  beforeEach(async () => {
    await tick(); // anything left from the test before
    smtp.received.length = 0;
  });

  async function feedWith(settings: Record<string, string>, name?: string) {
    const slug = `feed${++feeds}`;
    await addFeed(db(), slug, { name });
    for (const [key, value] of Object.entries(settings)) await setFeedSetting(db(), slug, key, value);
    return slug;
  }

  it('reports a held run once, with its reasons, counts and link, values escaped in HTML', async () => {
    const feed = await feedWith({ reportEmails: 'ops@example.org, hr@example.org' }, '<b>HR</b> & co');
    const run = await importFolder(env.ctx, feed, join(samples, 'basic'));
    expect(run.state).toBe('held');
    expect(await tick()).toEqual({ sent: 1, failed: 0 });
    expect(await tick()).toEqual({ sent: 0, failed: 0 });

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.to!.map((t) => t.address)).toEqual(['ops@example.org', 'hr@example.org']);
    expect(mail!.from!.address).toBe('sluice@example.org');
    expect(mail!.subject).toBe(`[Sluice] ${feed}: run ${run.id} held — needs a decision`);
    expect(mail!.text).toContain(`Run ${run.id} of feed ${feed} (<b>HR</b> & co) is held.`);
    expect(mail!.text).toContain('  - holdFirstRun: this is the first run of the feed; check it before it is applied');
    expect(mail!.text).toContain('  users created: 150');
    expect(mail!.text).toContain('  memberships added: 295');
    expect(mail!.text).toContain(`The run's page: https://sluice.example.org/admin/runs/${run.id}`);
    expect(mail!.html).toContain('(&lt;b&gt;HR&lt;/b&gt; &amp; co)');
    expect(mail!.html).not.toContain('<b>HR</b>');
    expect(mail!.html).toContain(`<a href="https://sluice.example.org/admin/runs/${run.id}">`);
    expect(mail!.attachments).toEqual([]);
    const [outbox] = await listOutbox(db(), { runId: run.id });
    expect(mail!.messageId).toBe(outbox!.messageId);
    expect(outbox!.state).toBe('sent');
  });

  it('reports a failed run with its first errors at file:line and every error attached as CSV', async () => {
    const feed = await feedWith({ reportEmails: 'ops@example.org', maxErrorRows: '1' });
    const rows: [string, string, string, string][] = [['u1', '<script>x</script>', 'A', 'B'], ['u2', 'not-an-email', 'C', 'D'], ['u3', 'c@example.org', 'E', 'F']];
    const run = await importFolder(env.ctx, feed, await uploadSet({ 'control.json': usersControl({ feed }), 'users.csv': usersCsv(rows) }));
    expect(run.state).toBe('failed');
    await tick();
    const [mail] = smtp.received;
    expect(mail!.subject).toBe(`[Sluice] ${feed}: run ${run.id} failed (3 errors)`);
    expect(mail!.text).toContain('Nothing was written to the directory.');
    expect(mail!.text).not.toContain('users created');
    expect(mail!.text).toContain('—  [too_many_errors] 2 rows have errors; the feed allows at most 1 (maxErrorRows)');
    expect(mail!.text).toContain('users.csv:2:2  [email_invalid] "<script>x</script>" is not a valid email address');
    expect(mail!.text).toContain('users.csv:3:2  [email_invalid] "not-an-email" is not a valid email address');
    expect(mail!.html).toContain('&quot;&lt;script&gt;x&lt;/script&gt;&quot; is not a valid email address');
    expect(mail!.html).not.toContain('<script>');
    expect(mail!.attachments).toHaveLength(1);
    const csv = mail!.attachments[0]!;
    expect(csv.filename).toBe(`run-${run.id}-errors.csv`);
    const csvText = typeof csv.content === 'string' ? csv.content : Buffer.from(csv.content as ArrayBuffer).toString('utf8');
    expect(csvText.split('\r\n').filter(Boolean)).toHaveLength(1 + run.errorCount);
    expect(csvText).toContain('row,users.csv,2,2,email_invalid,u1,"""<script>x</script>"" is not a valid email address"');
  });

  it('sends nothing for a state the feed does not report on, or without recipients', async () => {
    const quiet = await feedWith({ reportEmails: 'ops@example.org', reportOn: 'failed' });
    expect((await importFolder(env.ctx, quiet, join(samples, 'basic'))).state).toBe('held');
    const nobody = await feedWith({});
    expect((await importFolder(env.ctx, nobody, join(samples, 'basic'))).state).toBe('held');
    expect(await tick()).toEqual({ sent: 0, failed: 0 });
    expect(smtp.received).toEqual([]);
  });

  it('invites each user an applied run created exactly once — not on updates, reactivation or re-apply — within the hourly limit', async () => {
    const feed = await feedWith({
      holdFirstRun: 'false',
      holdOnMappingChange: 'false',
      minBaselineForPercent: '1000',
      invitationSubject: 'Welcome, {{firstName}}',
      invitationBody: 'Hello {{firstName}} {{lastName}},\n\nyour account {{username}} is ready.',
      invitations: 'true',
      invitationsPerHour: '2',
    });
    const drop = (rows: [string, string, string, string][]) => uploadSet({ 'control.json': usersControl({ feed }), 'users.csv': usersCsv(rows) });
    const first = await importFolder(env.ctx, feed, await drop([['u1', 'ann@example.org', 'Ann', '<Lee>'], ['u2', 'bob@example.org', 'Bob', 'Ray'], ['u3', 'cy@example.org', 'Cy', 'Fox']]));
    expect(first.state).toBe('applied');
    const now = new Date();
    expect(await tick(now)).toEqual({ sent: 2, failed: 0 }); // the hourly limit
    expect(await tick(new Date(now.getTime() + 10 * 60_000))).toEqual({ sent: 0, failed: 0 });
    expect(await tick(new Date(now.getTime() + 61 * 60_000))).toEqual({ sent: 1, failed: 0 });

    // u1 renamed, u3 gone (suspended), u4 new; then u3 back (reactivated); then a re-apply.
    expect((await importFolder(env.ctx, feed, await drop([['u1', 'ann@example.org', 'Anne', '<Lee>'], ['u2', 'bob@example.org', 'Bob', 'Ray'], ['u4', 'dee@example.org', 'Dee', 'Po']]))).state).toBe('applied');
    expect((await importFolder(env.ctx, feed, await drop([['u1', 'ann@example.org', 'Anne', '<Lee>'], ['u2', 'bob@example.org', 'Bob', 'Ray'], ['u3', 'cy@example.org', 'Cy', 'Fox'], ['u4', 'dee@example.org', 'Dee', 'Po']]))).state).toBe('applied');
    expect((await reapplyRun(env.ctx, first.id, 'test')).state).toBe('applied');
    for (let i = 0; i < 3; i++) await tick(new Date(now.getTime() + (200 + i) * 60_000));

    const invitations = smtp.received.filter((m) => m.subject?.startsWith('Welcome'));
    expect(invitations.map((m) => m.to![0]!.address).sort()).toEqual(['ann@example.org', 'bob@example.org', 'cy@example.org', 'dee@example.org']);
    const ann = invitations.find((m) => m.to![0]!.address === 'ann@example.org')!;
    expect(ann.subject).toBe('Welcome, Ann');
    expect(ann.text).toBe('Hello Ann <Lee>,\n\nyour account u1 is ready.\n');
    expect(ann.html).toContain('<p>Hello Ann &lt;Lee&gt;,</p>');
    expect(new Set(invitations.map((m) => m.messageId)).size).toBe(4);
  });

  it('keeps mail while the SMTP server is down or refuses, and delivers it once when it is back', async () => {
    const feed = await feedWith({ reportEmails: 'ops@example.org' });
    const run = await importFolder(env.ctx, feed, join(samples, 'basic'));
    const now = at('2026-11-21T12:00:00Z');
    await smtp.stop();
    try {
      expect(await tick(now)).toEqual({ sent: 0, failed: 1 });
      const [waiting] = await listOutbox(db(), { runId: run.id });
      expect(waiting).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: '2026-11-21T12:00:30.000Z' });
      expect(waiting!.lastError).toMatch(/ECONNREFUSED/);
      expect(await tick(at('2026-11-21T12:00:10Z'))).toEqual({ sent: 0, failed: 0 }); // not due yet
      expect(await tick(at('2026-11-21T12:00:31Z'))).toEqual({ sent: 0, failed: 1 });
      expect((await listOutbox(db(), { runId: run.id }))[0]).toMatchObject({ attempts: 2, nextAttemptAt: '2026-11-21T12:01:31.000Z' });
    } finally {
      await smtp.restart();
    }
    smtp.refuse(451, 'mailbox busy, try later');
    expect(await tick(at('2026-11-21T12:02:00Z'))).toEqual({ sent: 0, failed: 1 });
    expect((await listOutbox(db(), { runId: run.id }))[0]!.lastError).toContain('mailbox busy');
    smtp.refuse(null);
    expect(await tick(at('2026-11-21T12:10:00Z'))).toEqual({ sent: 1, failed: 0 });
    expect(await tick(at('2026-11-21T13:00:00Z'))).toEqual({ sent: 0, failed: 0 });
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.messageId).toBe((await listOutbox(db(), { runId: run.id }))[0]!.messageId);
  });

  it('sends one digest a day, after the configured hour, of the runs held longer than the configured age', async () => {
    await addAdmin(db(), { email: `operator${database.name}@example.org`, role: 'operator', password: 'long enough password', actor: 'test' });
    const feed = await feedWith({});
    const run = await importFolder(env.ctx, feed, join(samples, 'basic'));
    await db()('runs').where({ id: run.id }).update({ updated_at: toDbTime(at('2026-11-20T06:00:00Z')) });
    const digests = () => smtp.received.filter((m) => m.subject?.includes('held for more than'));
    await tick(at('2026-11-21T07:59:00Z'));
    expect(digests()).toHaveLength(0);
    await db()('runs').where({ id: run.id }).update({ updated_at: toDbTime(at('2026-11-21T06:00:00Z')) });
    await tick(at('2026-11-21T08:00:00Z')); // held only 2 hours
    expect(digests()).toHaveLength(0);
    await db()('runs').where({ id: run.id }).update({ updated_at: toDbTime(at('2026-11-20T06:00:00Z')) });
    await tick(at('2026-11-21T08:01:00Z'));
    await tick(at('2026-11-21T15:00:00Z'));
    expect(digests()).toHaveLength(1);
    const [digest] = digests();
    expect(digest!.to!.map((t) => t.address)).toContain(`operator${database.name}@example.org`);
    expect(digest!.text).toContain(`run ${run.id} of ${feed}, held since 2026-11-20 06:00 UTC: this is the first run of the feed`);
    expect(digest!.text).toContain(`https://sluice.example.org/admin/runs/${run.id}`);
    await tick(at('2026-11-22T08:00:00Z'));
    expect(digests()).toHaveLength(2);
  });
});

describe('mail without SMTP', () => {
  it('writes each message as an .eml file under the data folder, with its Message-ID', async () => {
    const env = await openTestEnv(testDatabases[0]!, { PUBLIC_URL: 'https://sluice.example.org' });
    try {
      await addFeed(env.ctx.database.knex, 'hr');
      await setFeedSetting(env.ctx.database.knex, 'hr', 'reportEmails', 'ops@example.org');
      const run = await importFolder(env.ctx, 'hr', join(samples, 'basic'));
      expect(await runMailTick(env.ctx)).toEqual({ sent: 1, failed: 0 });
      const files = await readdir(join(env.dataDir, 'mail'));
      expect(files).toEqual(['00000001-report.eml']);
      const mail = await PostalMime.parse(await readFile(join(env.dataDir, 'mail', files[0]!), 'utf8'));
      expect(mail.subject).toBe(`[Sluice] hr: run ${run.id} held — needs a decision`);
      expect(mail.messageId).toBe((await listOutbox(env.ctx.database.knex))[0]!.messageId);
    } finally {
      await env.close();
    }
  });
});
