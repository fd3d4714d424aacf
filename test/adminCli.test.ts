import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { samples } from './helpers/uploads.js';

describe('sluice CLI as an administrator uses it', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-admincli-'));
    env = { SLUICE_DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
    expect((await runCli(['feed', 'add', 'hr'], env)).code).toBe(0);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('answers --help on serve, run and import with the usage and an example, exit 0', async () => {
    for (const verb of ['serve', 'run', 'import']) {
      const help = await runCli([verb, '--help'], env);
      expect(help.code, verb).toBe(0);
      expect(help.stdout, verb).toContain(`Usage: sluice ${verb}`);
      expect(help.stdout, verb).toMatch(new RegExp(`Examples:\\n  sluice ${verb}\\b`));
    }
  });

  it('passes a negative value to the setting, whose own check refuses it; prints only the setting it changed', async () => {
    const negative = await runCli(['feed', 'set', 'hr', 'maxUserRemovals', '-5'], env);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('maxUserRemovals must be a whole number ≥ 0 (got "-5")');
    const set = await runCli(['feed', 'set', 'hr', 'maxUserRemovals', '7'], env);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('hr: maxUserRemovals = 7\n');
  });

  it('lists the users a run suspends with their names and e-mail addresses; logs stay off stdout', async () => {
    const first = JSON.parse((await runCli(['import', join(samples, 'basic'), '--feed', 'hr', '--keep', '--json'], env)).stdout);
    expect((await runCli(['run', 'apply', String(first.id)], env)).code).toBe(0);
    expect((await runCli(['import', join(samples, 'changes'), '--feed', 'hr', '--keep'], env)).code).toBe(0);
    const held = await runCli(['import', join(samples, 'mass-removal'), '--feed', 'hr', '--keep', '--json'], env);
    expect(held.code).toBe(3);
    const id = String(JSON.parse(held.stdout).id);
    const shown = await runCli(['run', 'show', id, '--changes', 'suspend'], env);
    expect(shown.code).toBe(3);
    expect(shown.stdout).toContain('user:suspend: 51 changes');
    expect(shown.stdout).toMatch(/\n {2}u1100 {2}Ada Larsen <ada\.larsen100@example\.org> {2}\(state: "active" -> "suspended"\)\n/);
    const json = JSON.parse((await runCli(['run', 'show', id, '--changes', 'suspend', '--limit', '5', '--json'], env)).stdout);
    expect(json.changesTotal).toBe(51);
    expect(json.changes).toHaveLength(5);
    expect(json.changes[0].person).toEqual({ name: 'Ada Larsen', email: 'ada.larsen100@example.org' });
    expect((await runCli(['run', 'show', id, '--changes', 'erase'], env)).stderr).toContain('--changes must be one of');
    const runs = await runCli(['runs'], { ...env, LOG_LEVEL: 'info' });
    expect(runs.stdout.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
  });
});
