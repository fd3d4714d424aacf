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
