import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { samples } from './helpers/uploads.js';

describe('sluice changes', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    env = { SLUICE_DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
    for (const feed of ['hr', 'lab']) {
      expect((await runCli(['feed', 'add', feed], env)).code).toBe(0);
      expect((await runCli(['feed', 'set', feed, 'holdFirstRun', 'false'], env)).code).toBe(0);
      expect((await runCli(['import', join(samples, 'basic'), '--feed', feed, '--keep'], env)).code).toBe(0);
    }
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('pages through the change log by commit number, as JSON and as lines', async () => {
    const first = await runCli(['changes', '--after', '0', '--limit', '3', '--json'], env);
    expect(first.code).toBe(0);
    const page = JSON.parse(first.stdout);
    expect(page.changes.map((c: { commitSeq: number }) => c.commitSeq)).toEqual([1, 2, 3]);
    expect(page.last).toBe(3);
    expect(page.changes[0]).toMatchObject({ runId: 1, entity: expect.any(String), operation: 'create', before: null, after: expect.any(Object) });

    // The second feed's run was applied after the first's 450 changes.
    const lab = JSON.parse((await runCli(['changes', '--feed', 'lab', '--limit', '2', '--json'], env)).stdout);
    expect(lab.changes.map((c: { commitSeq: number; runId: number }) => [c.commitSeq, c.runId])).toEqual([[451, 2], [452, 2]]);

    const text = await runCli(['changes', '--after', '898', '--limit', '10'], env);
    expect(text.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^899 {2}run 2 {2}\w+ \w+ {2}\S/), expect.stringMatching(/^900 /), 'last 900']);
  });

  it('names the fields an update changed, in the lines as in the JSON', async () => {
    const before = JSON.parse((await runCli(['changes', '--feed', 'hr', '--limit', '10000', '--json'], env)).stdout).last as number;
    const imported = await runCli(['import', join(samples, 'changes'), '--feed', 'hr', '--keep'], env);
    if (imported.code === 3) expect((await runCli(['run', 'apply', String(imported.stdout.match(/^run (\d+)/m)![1])], env)).code).toBe(0);
    else expect(imported.code, imported.stderr).toBe(0);
    const text = await runCli(['changes', '--feed', 'hr', '--after', String(before), '--limit', '10000'], env);
    expect(text.stdout).toMatch(/^\d+ {2}run \d+ {2}user update {2}u1001 {2}\(lastName: "Okafor" -> "Schmidt-Weber"\)$/m);
    // A create is the whole record: the line names the user only.
    expect(text.stdout).toMatch(/^\d+ {2}run \d+ {2}user create {2}\S+$/m);
    const json = JSON.parse((await runCli(['changes', '--feed', 'hr', '--after', String(before), '--limit', '10000', '--json'], env)).stdout);
    expect(json.changes.find((c: { entityKey: string; operation: string }) => c.entityKey === 'u1001' && c.operation === 'update')).toMatchObject({ before: { lastName: 'Okafor' }, after: { lastName: 'Schmidt-Weber' } });
  });

  it('refuses a cursor that is not a number', async () => {
    const bad = await runCli(['changes', '--after', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--after must be a whole number');
  });

  it('refuses a page size it would have to cut, so a short page never looks like the end of the log', async () => {
    for (const limit of ['0', '10001']) {
      const bad = await runCli(['changes', '--limit', limit], env);
      expect([bad.code, bad.stderr], limit).toEqual([2, expect.stringContaining('--limit must be from 1 to 10000')]);
    }
  });
});
