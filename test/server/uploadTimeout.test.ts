import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/keys/keys.service.js';
import { getRun } from '../../src/runs/runs.service.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { samples, uploadSet } from '../helpers/uploads.js';

/** Needs the compiled CLI: `npx tsc -p .` first. */
describe('`sluice upload` of a set the server keeps receiving', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let key: string;
  let folder: string;
  beforeAll(async () => {
    server = await startTestServer();
    key = (await createApiKey(server.ctx.database.knex, 'demo')).key;
    // The control file names memberships.csv, which the folder does not have.
    const basic = join(samples, 'basic');
    folder = await uploadSet({
      'control.json': await readFile(join(basic, 'control.json')),
      'people.csv': await readFile(join(basic, 'people.csv')),
      'groups.csv': await readFile(join(basic, 'groups.csv')),
    });
  });
  afterAll(async () => server?.stop());

  it('gives up after --receive-timeout with exit code 4, naming the files the run still waits for', async () => {
    const started = Date.now();
    const result = await runCli(['upload', '--url', server.url, '--key', key, '--feed', 'demo', folder, '--receive-timeout', '1']);
    expect(result.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(15_000);
    const runId = Number(/gave up: run (\d+) /.exec(result.stderr)?.[1]);
    expect(result.stderr).toBe(
      `gave up: run ${runId} is still receiving 1 s after the last file was sent; it waits for memberships.csv (named in control.json, not in ${folder}). Upload the missing files to complete the set, or fix control.json.\n`,
    );
    expect((await getRun(server.ctx.database.knex, runId)).state).toBe('receiving');
  });

  it('says the same in --json', async () => {
    const result = await runCli(['upload', '--url', server.url, '--key', key, '--feed', 'demo', folder, '--receive-timeout', '0.5', '--json']);
    expect(result.code).toBe(4);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'receiving', missing: ['memberships.csv'], timedOut: true });
  });

  it('refuses a timeout that is not a number of seconds', async () => {
    const result = await runCli(['upload', '--url', server.url, '--key', key, '--feed', 'demo', folder, '--receive-timeout', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--receive-timeout must be a number of seconds (got "soon")');
  });
});
