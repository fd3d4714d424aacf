import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processQueue } from '../../src/pipeline/queue.js';
import { startTestServer } from '../helpers/server.js';
import { usersControl, usersCsv } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const CANARY = 'root:*:20228:0:99999:7::: CANARY-7f3a';

/** Swaps `<dir>/users.csv` between a regular file and a link to `secret` every 2 ms, atomically by rename. */
const swapper = `
const fs = require('fs');
const [dir, secret, content] = process.argv.slice(1);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; ; i++) {
  try {
    if (i % 2) {
      fs.writeFileSync(dir + '/.swap-file', content);
      fs.renameSync(dir + '/.swap-file', dir + '/users.csv');
    } else {
      fs.rmSync(dir + '/.swap-link', { force: true });
      fs.symlinkSync(secret, dir + '/.swap-link');
      fs.renameSync(dir + '/.swap-link', dir + '/users.csv');
    }
  } catch {}
  Atomics.wait(pause, 0, 0, 2);
}`;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

describe('folder inbox against a symlink swapped in while it scans', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });

  it('never archives the link or anything of its target, in the archive, the errors or the events', async () => {
    const server = await startTestServer({}, { rescanMs: 30 });
    stops.push(() => server.stop());
    const folder = join(server.dataDir, 'inbox', 'demo');
    const secretDir = await mkdtemp(join(tmpdir(), 'sluice-secret-'));
    const secret = join(secretDir, 'shadow');
    await writeFile(secret, `${CANARY}\ndaemon:*:20228:0:99999:7:::\n`);
    const regular = usersCsv([['u1', 'u1@example.org', 'Ada', 'Lovelace']]);

    const child = spawn(process.execPath, ['-e', swapper, folder, secret, regular], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    stops.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    // Twenty sets, each completed by a control file while the swap goes on: many claims.
    for (let i = 0; i < 20; i++) {
      await writeFile(join(folder, '.control.json.tmp'), JSON.stringify(usersControl()));
      await rename(join(folder, '.control.json.tmp'), join(folder, 'control.json'));
      await until('the control file to be claimed', async () => !existsSync(join(folder, 'control.json')));
    }
    child.kill('SIGKILL');
    await exited;
    await until('the inbox to be emptied', async () => (await readdir(folder)).every((n) => n.startsWith('.')));
    // No new scans, and the running one finished: the archive is at rest.
    await server.inbox.close();
    await processQueue(server.ctx);

    const db = server.ctx.database.knex;
    const archived = await walk(join(server.dataDir, 'archive'));
    const links = [];
    for (const path of archived) if ((await lstat(path)).isSymbolicLink()) links.push(path);
    expect(links).toEqual([]);
    for (const path of archived) {
      if ((await lstat(path)).isFile()) expect((await readFile(path, 'utf8')).includes('CANARY'), path).toBe(false);
    }
    const said = JSON.stringify([await db('run_errors').select(), await db('run_events').select(), await db('runs').select()]);
    expect(said).not.toContain('CANARY');
    // The race was run for real: the regular file was claimed into sets.
    expect(Number((await db('run_files').where({ name: 'users.csv' }).count({ n: '*' }))[0]!.n)).toBeGreaterThan(0);
  });
});
