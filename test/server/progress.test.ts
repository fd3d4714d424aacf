import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import type { ProgressSnapshot } from '../../src/pipeline/progress.js';
import type { PresentedRun } from '../../src/runs/runs.presenter.js';
import { getRun } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { runCli, sluice } from '../helpers/cli.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const password = 'correct horse battery staple';

/** A PUT whose body the test sends chunk by chunk, as a slow client would. */
function slowPut(url: string, key: string, size: number) {
  const req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-length': String(size) } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  return { send: (chunk: Buffer) => new Promise<void>((resolve) => req.write(chunk, () => resolve())), end: () => req.end(), answer };
}

describe.each(testDatabases)('progress of a run being received and applied, on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let drop: () => Promise<void>;
  let key: string;
  let client: AdminClient;
  let work: string;
  const children: ChildProcess[] = [];
  const cliEnv = () => ({ DATABASE_URL: server.ctx.config.databaseUrl, SLUICE_DATA_DIR: server.dataDir });
  const db = () => server.ctx.database.knex;

  beforeAll(async () => {
    const created = await database.create();
    drop = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url, SLUICE_PROGRESS_MS: '200' });
    await addFeed(db(), 'slow', { settings: { holdFirstRun: false } });
    await addFeed(db(), 'big', { settings: { holdFirstRun: false } });
    key = (await createApiKey(db(), 'slow')).key;
    await addAdmin(db(), { email: 'viewer@example.org', role: 'viewer', password, actor: 'test' });
    client = new AdminClient(server.url);
    await client.signIn('viewer@example.org', password);
    work = await mkdtemp(join(tmpdir(), 'sluice-progress-'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await server?.stop();
    await drop?.();
    await rm(work, { recursive: true, force: true });
  });

  it('shows the files and bytes of a set while a file streams in slowly over HTTP, on the API, the run page and run show', async () => {
    const folder = await writeBigSet(join(work, 'upload'), 20_000);
    const users = await readFile(join(folder, 'users.csv'));
    const control = JSON.parse(await readFile(join(folder, 'control.json'), 'utf8')) as { files: Record<string, { rows?: number }> };
    control.files['users.csv']!.rows = 20_000;
    const controlBytes = Buffer.from(JSON.stringify(control));
    // The control file first: the set is open, waiting for users.csv.
    const opened = await fetch(`${server.url}/api/v1/feeds/slow/files/control.json`, { method: 'PUT', body: controlBytes, headers: { authorization: `Bearer ${key}` } });
    const runId = ((await opened.json()) as { run: { id: number } }).run.id;

    const api = async () => (await (await fetch(`${server.url}/api/v1/runs/${runId}`, { headers: { authorization: `Bearer ${key}` } })).json()) as PresentedRun;
    const upload = slowPut(`${server.url}/api/v1/feeds/slow/files/users.csv`, key, users.length);
    const chunk = 64 * 1024;
    const seen: ProgressSnapshot[] = [];
    for (let sent = 0; sent < 3 * chunk; sent += chunk) {
      await upload.send(users.subarray(sent, sent + chunk));
      // The next chunk goes only once the progress shows this one arrived.
      const shown = await until(`the API to show ${sent + chunk} bytes of users.csv`, async () => {
        const p = (await api()).progress;
        return p?.received?.incoming[0] && p.received.incoming[0].bytes >= sent + chunk && p;
      });
      seen.push(shown);
    }
    expect(seen.map((p) => p.received!.incoming[0]!.bytes)).toEqual([...seen.map((p) => p.received!.incoming[0]!.bytes)].sort((a, b) => a - b));
    expect(seen[2]).toMatchObject({
      phase: 'receiving',
      total: 20_000,
      received: { files: 1, filesTotal: 2, bytesTotal: controlBytes.length + users.length, incoming: [{ name: 'users.csv', size: users.length }] },
    });
    expect(seen[2]!.received!.bytes).toBe(controlBytes.length + seen[2]!.received!.incoming[0]!.bytes);
    expect((seen[2] as ProgressSnapshot & { text: string }).text).toMatch(/^receiving: 1 of 2 files, [\d.]+ [kMG]B of [\d.]+ [kMG]B, users\.csv [\d.]+ [kMG]B of [\d.]+ [kMG]B so far/);

    const page = await client.get(`/admin/runs/${runId}`);
    expect(page.text).toMatch(/Progress: <strong>receiving: 1 of 2 files, [\d.]+ [kMG]B of [\d.]+ [kMG]B, users\.csv [\d.]+ [kMG]B of [\d.]+ [kMG]B so far/);
    expect(page.text).toContain('This page refreshes every 2 seconds');
    const shown = await runCli(['run', 'show', String(runId)], cliEnv());
    expect(shown.stdout).toMatch(/progress {4}receiving: 1 of 2 files, .*users\.csv .* so far/);
    const json = JSON.parse((await runCli(['run', 'show', String(runId), '--json'], cliEnv())).stdout) as PresentedRun;
    expect(json.progress).toMatchObject({ phase: 'receiving', received: { files: 1, filesTotal: 2, incoming: [{ name: 'users.csv' }] } });

    upload.send(users.subarray(3 * chunk));
    upload.end();
    expect((await upload.answer).status).toBe(201);
    expect((await getRun(db(), runId)).state).toBe('queued');
  }, 60_000);

  it('shows the changes applied so far while a big change set applies, to the run page and the API of the server', async () => {
    const folder = await writeBigSet(join(work, 'apply'), 20_000);
    const marker = join(work, 'paused');
    // Another process applies (as `sluice import` does); it stops inside its apply transaction.
    // Its timer never fires here: on SQLite no timer fires during a statement (they run
    // synchronously), so the progress must be passed on between statements.
    const importing = sluice(['import', folder, '--feed', 'big'], { ...cliEnv(), SLUICE_FAULT: 'pause:apply:after-user-creates', SLUICE_FAULT_FILE: marker, SLUICE_PROGRESS_MS: '600000' });
    children.push(importing.child);
    await until('the apply to stop after creating the users', async () => existsSync(marker), 120_000);
    const runId = Number((await db()('runs').where({ state: 'applying' }).first('id')).id);
    const { counts } = await getRun(db(), runId);
    // Groups and users created, memberships still to add.
    const created = counts.groups.created + counts.users.created;
    const progress = await until(`the progress to show ${created} changes made`, async () => {
      const p = (await getRun(db(), runId)).progress;
      return p?.phase === 'applying' && p.rows === created && p;
    });
    expect(progress.total).toBe(counts.groups.created + counts.users.created + counts.memberships.added);
    expect(progress.rows).toBeLessThan(progress.total!);
    const page = await client.get(`/admin/runs/${runId}`);
    expect(page.text).toMatch(new RegExp(`Progress: <strong>applying: ${progress.rows.toLocaleString('en-US')} of ${progress.total!.toLocaleString('en-US')} changes`));
    const shown = await runCli(['run', 'show', String(runId)], cliEnv());
    expect(shown.stdout).toMatch(/progress {4}applying: [\d,]+ of [\d,]+ changes/);
    await rm(marker);
    const done = await importing.done;
    expect(done.code, done.stderr).toBe(0);
    const applied = await getRun(db(), runId);
    expect(applied.state).toBe('applied');
    if (database.name === 'sqlite') expect(existsSync(`${server.ctx.config.databaseUrl.slice('sqlite:'.length)}-progress/${runId}.json`)).toBe(false);
  }, 180_000);
});
