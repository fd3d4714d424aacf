import { existsSync } from 'node:fs';
import { cp, link, open, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import { loadConfig } from '../../src/config.js';
import { serve } from '../../src/server/serve.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { getRun, listRuns, runEvents, runFiles } from '../../src/runs/runs.service.js';
import { sluice } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { startTestServer } from '../helpers/server.js';
import { samples, usersControl } from '../helpers/uploads.js';

const basic = join(samples, 'basic');

describe('folder inbox', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });

  it('does not pick up a file that is still being written', async () => {
    const server = await startTestServer({ SLUICE_SETTLE_SECONDS: '1.5' }, { rescanMs: 300 });
    stops.push(() => server.stop());
    const folder = join(server.dataDir, 'inbox', 'demo');
    await cp(join(basic, 'groups.csv'), join(folder, 'groups.csv'));
    await cp(join(basic, 'memberships.csv'), join(folder, 'memberships.csv'));
    await cp(join(basic, 'control.json'), join(folder, 'control.json'));
    // people.csv arrives in chunks over three seconds, as a slow SFTP upload would.
    const content = await readFile(join(basic, 'people.csv'));
    const file = await open(join(folder, 'people.csv'), 'w');
    const chunk = Math.ceil(content.length / 6);
    for (let i = 0; i < 6; i++) {
      await file.write(content.subarray(i * chunk, (i + 1) * chunk));
      await sleep(500);
      expect(existsSync(join(folder, 'people.csv'))).toBe(true);
    }
    await file.close();
    const db = server.ctx.database.knex;
    const [receiving] = await listRuns(db);
    expect(receiving).toMatchObject({ state: 'receiving' });
    await until('the set to be queued', async () => (await listRuns(db))[0]?.state === 'queued');
    await processQueue(server.ctx);
    expect((await listRuns(db))[0]).toMatchObject({ state: 'held', rowCount: 169, errorCount: 0 });
    expect(await readdir(folder)).toEqual([]);
  });

  it('takes a file uploaded under a temporary name once it is renamed into place', async () => {
    const server = await startTestServer({ SLUICE_SETTLE_SECONDS: '0.5' }, { rescanMs: 200 });
    stops.push(() => server.stop());
    const folder = join(server.dataDir, 'inbox', 'demo');
    for (const name of ['people.csv', 'groups.csv', 'memberships.csv', 'control.json']) {
      await cp(join(basic, name), join(folder, `${name}.part`));
    }
    await sleep(1500);
    expect(await listRuns(server.ctx.database.knex)).toEqual([]);
    for (const name of ['people.csv', 'groups.csv', 'memberships.csv', 'control.json']) await rename(join(folder, `${name}.part`), join(folder, name));
    await until('the set to be queued', async () => (await listRuns(server.ctx.database.knex))[0]?.state === 'queued');
  });

  it('refuses a symbolic link and a hard link, saying so on the open set, and leaves a name no control file can list', async () => {
    const server = await startTestServer({}, { rescanMs: 100 });
    stops.push(() => server.stop());
    const folder = join(server.dataDir, 'inbox', 'demo');
    const target = join(server.dataDir, 'secret.txt');
    await writeFile(target, 'id,email,first,last,groups\nsecret,secret@example.org,S,S,\n');
    await symlink(target, join(folder, 'users.csv'));
    await link(target, join(folder, 'groups.csv'));
    await writeFile(join(folder, 'bad\r\nname.csv'), 'id\n1\n');
    await writeFile(join(folder, 'control.json'), JSON.stringify(usersControl()));
    const db = server.ctx.database.knex;
    const [run] = await until('the set to be opened', async () => (await listRuns(db)).length === 1 && listRuns(db));
    const events = await until('the refusal to be said on the run', async () => {
      const messages = (await runEvents(db, run!.id)).map((e) => e.message);
      return messages.some((m) => m.startsWith('refused users.csv')) && messages;
    });
    expect(events).toContain('refused users.csv from the inbox folder: it is a symbolic link; only regular files are read');
    await until('the hard link to be refused', async () => (await runEvents(db, run!.id)).some((e) => e.message.startsWith('refused groups.csv')));
    expect((await runEvents(db, run!.id)).map((e) => e.message)).toContain('refused groups.csv from the inbox folder: it is a hard link to a file elsewhere; only regular files are read');
    await until('the control file to be claimed', async () => (await runFiles(db, run!.id)).some((f) => f.name === 'control.json'));
    expect((await getRun(db, run!.id)).state).toBe('receiving');
    expect((await runFiles(db, run!.id)).map((f) => f.name)).toEqual(['control.json']);
    expect(await readdir(folder)).toEqual(['bad\r\nname.csv']);
    expect(await readFile(target, 'utf8')).toContain('secret@example.org');
  });

  it('processes files present before start-up, once, across restarts', async () => {
    const first = await startTestServer({}, { rescanMs: 200 });
    await first.stop();
    const folder = join(first.dataDir, 'inbox', 'demo');
    await cp(basic, folder, { recursive: true });
    const config = loadConfig({ SLUICE_DATA_DIR: first.dataDir, PORT: '0', SLUICE_SETTLE_SECONDS: '0' });
    for (let i = 0; i < 2; i++) {
      const server = await serve(config, { jobs: false, rescanMs: 200 });
      await until('the set to be queued', async () => (await listRuns(server.ctx.database.knex)).length === 1);
      await sleep(600);
      expect((await listRuns(server.ctx.database.knex)).length).toBe(1);
      await server.stop();
    }
  });

  it.each(['folder:after-rename', 'intake:after-archive', 'folder:after-claim'])('processes a set exactly once when the server is killed at %s', async (point) => {
    const server = await startTestServer({}, { rescanMs: 200 });
    const dataDir = server.dataDir;
    await server.stop();
    const env = { SLUICE_DATA_DIR: dataDir, PORT: '0', SLUICE_SETTLE_SECONDS: '0', SLUICE_LEASE_SECONDS: '1', SLUICE_FAULT: point, SLUICE_FAULT_FILE: join(dataDir, 'fault') };
    const child = sluice(['serve'], env);
    await cp(basic, join(dataDir, 'inbox', 'demo'), { recursive: true });
    await until('the claim', async () => existsSync(join(dataDir, 'fault')));
    child.child.kill('SIGKILL');
    await child.done;
    expect((await readdir(join(dataDir, 'inbox', 'demo'))).length).toBe(3);

    const restarted = sluice(['serve'], { ...env, SLUICE_FAULT: '' });
    const db = knexFactory({ client: 'better-sqlite3', connection: { filename: join(dataDir, 'sluice.sqlite') }, useNullAsDefault: true });
    try {
      const runs = await until('the run to be processed', async () => {
        const rows = await db('runs').select('id', 'state');
        return rows.length === 1 && rows[0].state === 'held' ? rows : null;
      }, 40_000);
      expect(runs).toEqual([{ id: 1, state: 'held' }]);
      expect((await db('run_files').where({ run_id: 1 }).pluck('name')).sort()).toEqual(['control.json', 'groups.csv', 'memberships.csv', 'people.csv']);
      expect(await readdir(join(dataDir, 'inbox', 'demo'))).toEqual([]);
    } finally {
      await db.destroy();
      restarted.child.kill('SIGTERM');
      await restarted.done;
    }
  });
});
