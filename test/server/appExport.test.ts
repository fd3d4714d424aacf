import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { s3Client } from '../../src/channels/s3Inbox.js';
import { runScheduledExports } from '../../src/exports/exportSchedule.js';
import { exportAppChanges } from '../../src/exports/exports.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { addFeed, getFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { addAdmin } from '../../src/admins/admins.service.js';
import { AdminClient } from '../helpers/admin.js';
import { runCli } from '../helpers/cli.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startTestServer } from '../helpers/server.js';
import { copySample, importFolder } from '../helpers/uploads.js';

describe('exporting the applications\' changes back to the source', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let write: string;
  let outbox: string;
  const db = () => server.ctx.database.knex;
  const post = async (changes: unknown) => {
    const response = await fetch(`${server.url}/api/v1/feeds/hr/app-changes`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' }, body: JSON.stringify({ changes }) });
    expect(response.status, await response.clone().text()).toBe(201);
  };
  const state = async (key: string) => (await db()('directory_users').where({ user_key: key }).first('state'))?.state as string | undefined;
  const validate = async (folder: string) => runCli(['validate', folder, '--json']);

  beforeAll(async () => {
    s3 = await startS3rver(['exports']);
    // The SDK reads the credentials from the environment (see test/helpers/s3rver.ts).
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    server = await startTestServer(s3.env);
    outbox = await mkdtemp(join(tmpdir(), 'sluice-export-'));
    await addFeed(db(), 'hr', { settings: { holdFirstRun: false } });
    await setFeedSetting(db(), 'hr', 'exportTo', outbox);
    expect((await importFolder(server.ctx, 'hr', await copySample('basic'))).state).toBe('applied');
    write = (await createAppToken(db(), { name: 'app', feeds: ['hr'], scope: 'write' })).token;
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  it('writes the app-side changes as a delta set that passes sluice validate; an app-created user is not missing to a source run before it was exported', async () => {
    await post([
      { op: 'create', key: 'app1', fields: { email: 'new.person@example.org', firstName: 'New', lastName: 'Person, Jr.', 'custom.lastSeen': '2026-11-28' }, addGroups: ['beta'] },
      { op: 'update', key: 'u1000', fields: { title: 'Dr' } },
    ]);
    // The source's next full run does not have app1 yet: nothing was exported, so it stays.
    const before = await importFolder(server.ctx, 'hr', await copySample('basic'));
    expect(before.state).toBe('applied');
    expect(await state('app1')).toBe('active');
    await post([{ op: 'delete', key: 'u1149' }]);

    const result = (await exportAppChanges(server.ctx, await getFeed(db(), 'hr'), 'test'))!;
    expect(result).toMatchObject({ users: 3, run: { channel: 'export', state: 'applied' } });
    expect(result.target).toBe(join(outbox, `hr-${result.run.id}`));
    expect((await readdir(result.target!)).sort()).toEqual(['control.json', 'users.csv']);
    const csv = await readFile(join(result.target!, 'users.csv'), 'utf8');
    expect(csv.split('\r\n')[0]).toBe('username,email,firstName,lastName,jobTitle,country,custom.department,custom.lastSeen,groups,status');
    expect(csv).toContain('app1,new.person@example.org,New,"Person, Jr.",,,,2026-11-28,beta,active');
    expect(csv).toContain('u1149,,,,,,,,,deleted');
    const checked = await validate(result.target!);
    expect(checked.code, checked.stdout).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true, rows: 3, errorRows: 0 });
    // Nothing new since: no second export.
    expect(await exportAppChanges(server.ctx, await getFeed(db(), 'hr'), 'test')).toBeNull();

    // A source run that starts after the export and still lacks app1 removes it as any user.
    const after = await importFolder(server.ctx, 'hr', await copySample('basic'));
    expect(after.state).toBe('applied');
    expect(await state('app1')).toBe('suspended');
  });

  it('exports to an s3:// prefix as JSON, whole files that pass sluice validate', async () => {
    await setFeedSetting(db(), 'hr', 'exportTo', 's3://exports/back-to-source/');
    await setFeedSetting(db(), 'hr', 'exportFormat', 'json');
    await post([{ op: 'update', key: 'u1001', fields: { title: 'Prof' } }]);
    const result = (await exportAppChanges(server.ctx, await getFeed(db(), 'hr'), 'test'))!;
    expect(result.target).toBe(`s3://exports/back-to-source/hr-${result.run.id}/`);
    const client = s3Client(server.ctx.config.s3);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'exports', Prefix: `back-to-source/hr-${result.run.id}/` }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([`back-to-source/hr-${result.run.id}/control.json`, `back-to-source/hr-${result.run.id}/users.json`]);
    const local = await mkdtemp(join(tmpdir(), 'sluice-export-s3-'));
    for (const name of ['control.json', 'users.json']) {
      const object = await client.send(new GetObjectCommand({ Bucket: 'exports', Key: `back-to-source/hr-${result.run.id}/${name}` }));
      await writeFile(join(local, name), await object.Body!.transformToString());
    }
    client.destroy();
    const users = JSON.parse(await readFile(join(local, 'users.json'), 'utf8')) as Record<string, string>[];
    expect(users).toEqual([expect.objectContaining({ username: 'u1001', title: 'Prof', status: 'active' })]);
    const checked = await validate(local);
    expect(checked.code, checked.stdout).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true, rows: 1 });
  });

  it('exports on the feed\'s exportSchedule, once per slot', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'sluice-export-scheduled-'));
    await setFeedSetting(db(), 'hr', 'exportTo', folder);
    await setFeedSetting(db(), 'hr', 'exportFormat', 'csv');
    await setFeedSetting(db(), 'hr', 'exportSchedule', 'hourly');
    await post([{ op: 'update', key: 'u1002', fields: { title: 'Mx' } }]);
    const now = new Date();
    expect(await runScheduledExports(server.ctx, now)).toEqual([]);
    const later = new Date(now.getTime() + 2 * 3_600_000);
    const [done, ...more] = await runScheduledExports(server.ctx, later);
    expect(more).toEqual([]);
    expect(done).toMatchObject({ users: 1, target: join(folder, `hr-${done!.run.id}`) });
    expect(await runScheduledExports(server.ctx, later)).toEqual([]);
    expect(await readdir(folder)).toEqual([`hr-${done!.run.id}`]);
  });

  it('holds an export whose deletions cross the removal rules; approving it sends it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'sluice-export-held-'));
    await setFeedSetting(db(), 'hr', 'exportTo', folder);
    await setFeedSetting(db(), 'hr', 'exportSchedule', 'off');
    await setFeedSetting(db(), 'hr', 'maxUserRemovals', '1');
    await post([{ op: 'delete', key: 'u1140' }, { op: 'delete', key: 'u1141' }]);
    const held = (await exportAppChanges(server.ctx, await getFeed(db(), 'hr'), 'test'))!;
    expect(held).toMatchObject({ target: null, users: 2, run: { state: 'held', holdReasons: [{ rule: 'maxUserRemovals', value: 2, limit: 1 }] } });
    expect(await readdir(folder)).toEqual([]);
    // Held counts as sent for the next export: the same changes are not exported twice.
    expect(await exportAppChanges(server.ctx, await getFeed(db(), 'hr'), 'test')).toBeNull();

    // The run pages show app and export runs like any other.
    await addAdmin(db(), { email: 'root@example.org', role: 'admin', password: 'correct horse battery staple', actor: 'test' });
    const admin = new AdminClient(server.url);
    await admin.signIn('root@example.org', 'correct horse battery staple');
    const appRun = Number((await db()('runs').where({ channel: 'app' }).max({ id: 'id' }))[0]!.id);
    for (const id of [held.run.id, appRun]) expect((await admin.get(`/admin/runs/${id}`)).status, `run ${id}`).toBe(200);
    expect((await admin.get('/admin/runs')).status).toBe(200);

    const approved = await approveRun(server.ctx, held.run.id, 'reviewer');
    expect(approved.state).toBe('applied');
    expect(await readdir(join(folder, `hr-${held.run.id}`))).toEqual(expect.arrayContaining(['control.json', 'users.csv']));
    expect(await readFile(join(folder, `hr-${held.run.id}`, 'users.csv'), 'utf8')).toMatch(/u1141,.*deleted/);
  });
});
