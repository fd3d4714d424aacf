import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { enqueueRunReports } from '../src/mail/runReports.js';
import { buildProgram } from '../src/cli/program.js';
import { runCli } from './helpers/cli.js';
import { samples } from './helpers/uploads.js';

/** Every command path the program knows (`feed set`, `users`, …), so a new verb without help fails. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe('sluice CLI: help, parsing and the read-only verbs', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-clihelp-'));
    env = { SLUICE_DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
    expect((await runCli(['feed', 'add', 'hr'], env)).code).toBe(0);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('answers --help on every command and sub-command with its usage and an example, exit 0', async () => {
    const paths = commandPaths(buildProgram(() => {}));
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['feed set', 'run show', 'admin reset-password', 'users', 'mail show', 'audit']));
    const queue = [...paths];
    const worker = async () => {
      for (let path = queue.shift(); path; path = queue.shift()) {
        const help = await runCli([...path, '--help'], env);
        const name = path.join(' ');
        expect(help.code, name).toBe(0);
        expect(help.stdout, name).toContain(`Usage: sluice ${name}`);
        expect(help.stdout, name).toMatch(new RegExp(`Examples:\\n(  .*\\n)*  (\\S+ )?(\\| )?sluice ${name}\\b`));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  });

  it('exits 2 with a clear message on an unknown option, a missing or extra argument, an unknown sub-command', async () => {
    const cases: [string[], string][] = [
      [['runs', '--bogus'], "unknown option '--bogus'"],
      [['feed', 'set', 'hr', 'maxUserRemovals', '--bogus'], "unknown option '--bogus'"],
      [['runs', '--limit'], "option '--limit <n>' argument missing"],
      [['feed', 'set', 'hr', 'maxUserRemovals'], "missing required argument 'value'"],
      [['runs', 'extra'], 'too many arguments'],
      [['feed', 'erase', 'hr'], "unknown command 'erase'"],
      [['nonsense'], "unknown command 'nonsense'"],
      [['runs', '--limit', 'x'], '--limit must be a whole number from 1 (got "x")'],
      [['import', '/no/such/folder', '--feed', 'hr'], '"/no/such/folder" is not a folder'],
      [['validate', '/no/such/folder'], '"/no/such/folder" is not a folder'],
      [['users', 'hr', '--state', 'weird'], '--state must be one of active, suspended (got "weird")'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stdout, args.join(' ')).toBe('');
    }
    const bare = await runCli([], env);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: sluice');
  });

  it('hands -5 to the setting, which refuses it with its own message; a negative option value too', async () => {
    const negative = await runCli(['feed', 'set', 'hr', 'maxUserRemovals', '-5', '--json'], env);
    expect(negative.code).toBe(2);
    expect(JSON.parse(negative.stdout).error.message).toBe('maxUserRemovals must be a whole number ≥ 0 (got "-5")');
    const limit = await runCli(['users', 'hr', '--limit', '-5'], env);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit must be a whole number of at least 1 (got "-5")');
  });

  it('looks up users, groups, the audit log and the outbox, as lines and as JSON', async () => {
    const imported = JSON.parse((await runCli(['import', join(samples, 'basic'), '--feed', 'hr', '--keep', '--json'], env)).stdout);
    expect((await runCli(['feed', 'set', 'hr', 'reportEmails', 'ops@example.org'], env)).code).toBe(0);
    expect((await runCli(['run', 'apply', String(imported.id)], env)).code).toBe(0);

    const users = await runCli(['users', 'hr', '--limit', '2'], env);
    expect(users.stdout).toBe('u1000  active  Ada Okafor <ada.okafor0@example.org>\nu1001  active  Ben Okafor <ben.okafor1@example.org>\n');
    const found = JSON.parse((await runCli(['users', 'hr', '--search', 'BEN.OKAFOR', '--json'], env)).stdout);
    expect(found).toEqual([{ key: 'u1001', state: 'active', name: 'Ben Okafor', email: 'ben.okafor1@example.org' }]);
    const none = await runCli(['users', 'hr', '--state', 'suspended'], env);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'hr has no suspended users\n' });
    expect((await runCli(['users', 'hr', '--search', 'zzz'], env)).stderr).toBe('no user of hr matches "zzz"\n');

    const user = await runCli(['user', 'hr', 'Ben.Okafor1@example.org'], env);
    expect(user.code).toBe(0);
    expect(user.stdout).toContain('user u1001 (feed hr): active');
    expect(user.stdout).toContain('    custom.department = Chemistry  (locked)\n');
    expect(user.stdout).toContain('  groups: staff\n');
    expect(user.stdout).toMatch(/run \d+ \S+ user create: .*firstName null → Ben/);
    const userJson = JSON.parse((await runCli(['user', 'hr', 'u1001', '--json'], env)).stdout);
    expect(userJson).toMatchObject({ key: 'u1001', state: 'active', groups: [{ code: 'staff' }], sourceRecord: { ID: 'u1001', DEPT: 'Chemistry' } });
    expect(userJson.history.map((h: { operation: string }) => h.operation)).toEqual(['add', 'create']);
    const missing = await runCli(['user', 'hr', 'nobody'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('user nobody does not exist');

    expect((await runCli(['groups', 'hr'], env)).stdout).toContain('mentors  Mentors  15 member(s)\n');
    const groups = JSON.parse((await runCli(['groups', 'hr', '--json'], env)).stdout);
    expect(groups.total).toBe(5);
    const group = await runCli(['group', 'hr', 'mentors'], env);
    expect(group.stdout).toMatch(/^group mentors \(Mentors\) of hr: 15 member\(s\)\n {2}u1000 {2}active {2}Ada Okafor <ada\.okafor0@example\.org>\n/);
    expect(JSON.parse((await runCli(['group', 'hr', 'mentors', '--json'], env)).stdout).members).toHaveLength(15);

    const audit = await runCli(['audit', '--feed', 'hr', '--action', 'feed.settings'], env);
    expect(audit.stdout).toMatch(/^\S+ {2}cli:\S+ {2}feed\.settings {2}feed hr {2}\{"reportEmails"/);
    const auditJson = JSON.parse((await runCli(['audit', '--limit', '2', '--json'], env)).stdout);
    expect(auditJson.entries.map((e: { action: string }) => e.action)).toEqual(['run.apply', 'feed.settings']);

    // The report the serve job would queue for the applied run.
    const ctx = await openContext(loadConfig({ ...process.env, ...env }));
    try {
      expect(await enqueueRunReports(ctx)).toBeGreaterThan(0);
    } finally {
      await ctx.database.close();
    }
    const mails = JSON.parse((await runCli(['mail', '--json'], env)).stdout);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ kind: 'report', to: ['ops@example.org'], state: 'pending' });
    expect((await runCli(['mail'], env)).stdout).toMatch(new RegExp(`^${mails[0].id} .* pending {2}report {2}ops@example\\.org {2}.*\\n$`));
    const shown = await runCli(['mail', 'show', String(mails[0].id)], env);
    expect(shown.stdout).toContain('To: ops@example.org\n');
    expect(shown.stdout).toContain(`Subject: ${mails[0].subject}\n`);
    expect(JSON.parse((await runCli(['mail', 'show', String(mails[0].id), '--json'], env)).stdout).text).toContain('hr');
  });

  it('ends quietly when its reader closes the pipe early (sluice --help | head -1)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'sluice.js'), 'users', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, stderr]).toEqual([0, '']);
  });
});
