import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../src/audit/audit.service.js';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { runCli } from './helpers/cli.js';
import { samples } from './helpers/uploads.js';

describe('sluice CLI', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    env = { SLUICE_DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('imports, holds with exit code 3, applies with 0, and prints the documented JSON', async () => {
    expect((await runCli(['feed', 'add', 'hr'], env)).code).toBe(0);
    const held = await runCli(['import', join(samples, 'basic'), '--feed', 'hr', '--keep', '--json'], env);
    expect(held.code).toBe(3);
    const run = JSON.parse(held.stdout);
    expect(run).toMatchObject({
      id: 1,
      feed: 'hr',
      state: 'held',
      holdReasons: [expect.objectContaining({ rule: 'holdFirstRun' })],
      counts: {
        users: { created: 150, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: 0 },
        groups: { created: 5, updated: 0 },
        memberships: { added: 295, removed: 0 },
      },
      errors: { count: 0, first: [] },
    });
    const applied = await runCli(['run', 'apply', '1', '--json'], env);
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout).state).toBe('applied');

    await runCli(['import', join(samples, 'changes'), '--feed', 'hr', '--keep'], env);
    const list = await runCli(['runs', '--feed', 'hr', '--json'], env);
    expect(JSON.parse(list.stdout).map((r: { id: number; state: string }) => [r.id, r.state])).toEqual([
      [2, 'applied'],
      [1, 'applied'],
    ]);
  });

  it('exits 1 on a failed set, listing file, line and column', async () => {
    await runCli(['feed', 'add', 'bad'], env);
    const result = await runCli(['import', join(samples, 'invalid', 'set-level'), '--feed', 'bad', '--keep', '--json'], env);
    expect(result.code).toBe(1);
    const run = JSON.parse(result.stdout);
    expect(run.state).toBe('failed');
    expect(run.errors.first).toEqual(
      expect.arrayContaining([
        { file: 'groups.csv', line: 6, column: 2, code: 'csv_malformed', message: expect.stringMatching(/never closed/) },
        { file: 'people.csv', line: 1, column: 3, code: 'header_unknown', message: expect.stringMatching(/"PHONE" is not mapped/) },
      ]),
    );
  });

  it('validates a folder offline, without any database configured', async () => {
    const ok = await runCli(['validate', join(samples, 'invalid', 'row-level')], { DATABASE_URL: 'mysql://nobody@127.0.0.1:1/none' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('row error: people.csv:7:2: "not-an-email" is not a valid email address [email_invalid]');
    const bad = await runCli(['validate', join(samples, 'invalid', 'set-level'), '--json'], {});
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, errors: expect.arrayContaining([expect.objectContaining({ code: 'header_unknown', line: 1, column: 3 })]) });
  });

  it('says offline that an empty full users file would be held, and how a source says it is empty on purpose', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'sluice-empty-'));
    try {
      const control = { version: 1, mode: 'full', files: { 'people.csv': { type: 'users' } }, users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST' } } };
      await writeFile(join(folder, 'people.csv'), 'ID,EMAIL,FIRST,LAST\n');
      await writeFile(join(folder, 'control.json'), JSON.stringify(control));
      const text = await runCli(['validate', folder], {});
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('would be held: people.csv has no records: a full run would be held (emptyUsersFile) unless the control file says "emptyOnPurpose": true');
      await writeFile(join(folder, 'control.json'), JSON.stringify({ ...control, emptyOnPurpose: true }));
      expect(JSON.parse((await runCli(['validate', folder, '--json'], {})).stdout)).toMatchObject({ ok: true, holds: [] });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('adds admin accounts with a password shown once, lists them, and refuses a bad role', async () => {
    const added = await runCli(['admin', 'add', 'Ops@Example.org', '--role', 'operator'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^ops@example\.org \(operator\)\npassword: [A-Za-z2-9]{20}\n\nThis is the only time the password is shown/);
    const listed = await runCli(['admin', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ email: 'ops@example.org', role: 'operator', lastSignInAt: null })]);
    expect(listed.stdout).not.toMatch(/password/i);
    const bad = await runCli(['admin', 'add', 'x@example.org', '--role', 'root'], env);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('role must be one of viewer, operator, admin (got "root")')]);
    expect((await runCli(['admin', 'add', 'ops@example.org', '--role', 'viewer'], env)).stderr).toContain('an admin account for ops@example.org already exists');
  });

  it('audits feed add, set, control and import under SLUICE_ACTOR, else the OS account (never $USER)', async () => {
    const asCron = { ...env, SLUICE_ACTOR: 'hr-nightly-cron' };
    expect((await runCli(['feed', 'add', 'audited', '--name', 'Audited'], asCron)).code).toBe(0);
    expect((await runCli(['feed', 'set', 'audited', 'onMissing', 'keep'], asCron)).code).toBe(0);
    expect((await runCli(['feed', 'control', 'audited', join(samples, 'basic', 'control.json')], asCron)).code).toBe(0);
    // $USER is whatever the caller's environment says; the audit trusts the system's account.
    const asShell = { ...env, SLUICE_ACTOR: '', USER: 'someone-else', LOGNAME: 'someone-else' };
    expect((await runCli(['import', join(samples, 'basic'), '--feed', 'audited', '--keep', '--json'], asShell)).code).toBe(3);

    const ctx = await openContext(loadConfig(env));
    try {
      const { entries } = await listAudit(ctx.database.knex, { limit: 100, offset: 0 });
      const audited = entries.filter((e) => e.target === 'feed audited').reverse();
      expect(audited.map((e) => [e.actor, e.action])).toEqual([
        ['cli:hr-nightly-cron', 'feed.add'],
        ['cli:hr-nightly-cron', 'feed.settings'],
        ['cli:hr-nightly-cron', 'feed.control'],
        [`cli:${userInfo().username}`, 'feed.import'],
      ]);
      expect(audited[1]!.details).toEqual({ onMissing: { before: 'suspend', after: 'keep' } });
      expect(audited[2]!.details).toEqual({ before: null, after: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(audited[3]!.details).toEqual({ run: expect.any(Number), folder: join(samples, 'basic') });
      expect(entries.some((e) => e.actor.includes('unknown') || e.actor.includes('someone-else'))).toBe(false);
    } finally {
      await ctx.database.close();
    }
  });

  it('exits 2 on usage errors and explains them', async () => {
    expect((await runCli(['frobnicate'], env)).code).toBe(2);
    const badSetting = await runCli(['feed', 'set', 'hr', 'onMissing', 'erase'], env);
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toContain('onMissing must be one of suspend, keep, delete (got "erase")');
    expect((await runCli(['run', 'show', 'abc'], env)).code).toBe(2);
    expect((await runCli(['run', 'show', '999'], env)).stderr).toContain('run 999 does not exist');
  });
});
