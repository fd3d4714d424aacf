import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { listRuns, runEvents } from '../../src/runs/runs.service.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';

// The embedded default: one SQLite file written by the server, its run executor (a thread with
// a connection of its own) and CLI commands in other processes, all at once.
describe('CLI commands beside a serving SQLite database', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  // The server's log (its threads' too) goes to this process's stderr: kept to look for errors.
  let serverLog = '';
  const write = process.stderr.write.bind(process.stderr);
  beforeAll(async () => {
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      serverLog += String(chunk);
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    server = await startTestServer({}, { jobs: true });
  });
  afterAll(async () => {
    await server?.stop();
    process.stderr.write = write;
  });

  it('wait their turn instead of failing while uploads are processed; no timeline shows SQL', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'web');
    await addFeed(db, 'cli');
    const { key } = await createApiKey(db, 'web');
    const env = { SLUICE_DATA_DIR: server.dataDir };
    const sets = await Promise.all([0, 1, 2].map(async (v) => writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-set-')), 20_000, v, 3)));
    const uploads = (async () => {
      const results: (CliResult & { args: string[] })[] = [];
      for (const set of sets) {
        const args = ['upload', '--url', server.url, '--key', key, '--feed', 'web', set];
        results.push({ args, ...(await runCli(args, env)) });
      }
      return results;
    })();
    const commands = (async () => {
      const results: (CliResult & { args: string[] })[] = [];
      const cli = async (...args: string[]) => results.push({ args, ...(await runCli(args, env)) });
      await cli('import', sets[0]!, '--feed', 'cli', '--keep');
      await cli('migrate');
      await cli('runs');
      await cli('run', 'show', '1');
      await cli('feed', 'set', 'cli', 'reportEmails', 'ops@example.org');
      await cli('key', 'create', 'cli');
      await cli('import', sets[1]!, '--feed', 'cli', '--keep');
      await cli('runs', '--feed', 'web');
      return results;
    })();
    const all = [...(await uploads), ...(await commands)];
    expect(serverLog).not.toMatch(/locked|SQLITE_BUSY/i);
    for (const r of all) {
      expect(r.stderr + r.stdout).not.toMatch(/locked|SQLITE_BUSY/i);
      // `run show` exits 1 for a run that ended unapplied (README): run 1 may be superseded by
      // the time it is shown, which depends on how the uploads and imports interleave.
      const endedSuperseded = r.args[0] === 'run' && /^run \d+ .*: superseded/m.test(r.stdout);
      expect(endedSuperseded ? [1] : [0, 3], r.stderr + r.stdout).toContain(r.code);
    }
    for (const run of await listRuns(db, { limit: 100 })) {
      for (const e of await runEvents(db, run.id)) expect(e.message).not.toMatch(/locked|\b(select|insert into|update|delete from)\b.*\b(from|set|where|values)\b/i);
    }
    // Every set was processed (a newer full set of the feed supersedes an older one held).
    const runs = await listRuns(db, { limit: 100 });
    expect(runs.length).toBe(5);
    for (const run of runs) expect(['held', 'applied', 'superseded'], `run ${run.id}`).toContain(run.state);
  }, 300_000);
});
