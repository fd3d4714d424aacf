import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppToken } from '../../src/apps/appTokens.service.js';
import { readChanges } from '../../src/directory/changeLog.js';
import { addFeed, setFeedSetting } from '../../src/feeds/feeds.service.js';
import { createApiKey } from '../../src/keys/keys.service.js';
import { reapplyRun } from '../../src/runs/runActions.js';
import { getRun, runEvents } from '../../src/runs/runs.service.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { copySample, importFolder } from '../helpers/uploads.js';

describe.each(testDatabases)('an application reports its own changes on $name', (database) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let drop: () => Promise<void>;
  let write: string;
  let read: string;
  let sourceKey: string;
  const db = () => server.ctx.database.knex;
  const post = (changes: unknown, token = write) =>
    fetch(`${server.url}/api/v1/feeds/hr/app-changes`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ changes }) });
  const user = async (key: string) => (await fetch(`${server.url}/api/v1/feeds/hr/users/${key}`, { headers: { authorization: `Bearer ${read}` } })).json() as Promise<Record<string, unknown>>;
  const last = async () => (await readChanges(db(), { after: 0, limit: 10_000 })).last;

  beforeAll(async () => {
    const created = await database.create();
    drop = created.drop;
    server = await startTestServer({ DATABASE_URL: created.url });
    await addFeed(db(), 'hr', { settings: { holdFirstRun: false } });
    expect((await importFolder(server.ctx, 'hr', await copySample('basic'))).state).toBe('applied');
    write = (await createAppToken(db(), { name: 'app', feeds: ['hr'], scope: 'write' })).token;
    read = (await createAppToken(db(), { name: 'reader', feeds: ['hr'], scope: 'read' })).token;
    sourceKey = (await createApiKey(db(), 'hr')).key;
  });
  afterAll(async () => {
    await server?.stop();
    await drop?.();
  });

  it('applies a created user, an update of an unlocked field and an app-managed membership at once as an app run, in the change log', async () => {
    const before = await last();
    const response = await post([
      { op: 'create', key: 'app1', fields: { email: 'new.person@example.org', firstName: 'New', lastName: 'Person', 'custom.lastSeen': '2026-11-28' }, addGroups: ['beta-testers'] },
      { op: 'update', key: 'u1000', fields: { 'custom.lastSeen': '2026-11-27', title: 'Dr' }, addGroups: ['beta-testers'] },
    ]);
    const body = (await response.json()) as { run: { id: number } };
    expect(response.status, JSON.stringify(body)).toBe(201);
    const run = await getRun(db(), body.run.id);
    expect(run).toMatchObject({ channel: 'app', state: 'applied', mode: 'delta', counts: { users: { created: 1, updated: 1 }, groups: { created: 1 }, memberships: { added: 2 } } });
    const logged = (await readChanges(db(), { after: before, limit: 100 })).changes;
    expect(logged.every((c) => c.runId === run.id)).toBe(true);
    expect(logged.map((c) => `${c.entity} ${c.operation} ${c.entityKey}${c.groupCode ? ` ${c.groupCode}` : ''}`).sort()).toEqual(
      ['group create beta-testers', 'membership add app1 beta-testers', 'membership add u1000 beta-testers', 'user create app1', 'user update u1000'].sort(),
    );
    expect(logged.find((c) => c.entityKey === 'u1000' && c.entity === 'user')).toMatchObject({ before: { title: null }, after: { title: 'Dr', custom: { department: 'Physics', lastSeen: '2026-11-27' } } });
    expect(await user('app1')).toMatchObject({ state: 'active', fields: { email: 'new.person@example.org', 'custom.lastSeen': '2026-11-28' }, lockedFields: [], groups: [{ code: 'beta-testers', managed: false }] });
    expect(await user('u1000')).toMatchObject({ fields: { firstName: 'Ada', title: 'Dr', 'custom.lastSeen': '2026-11-27' } });
    // Not a snapshot of the source: it cannot be re-applied.
    await expect(reapplyRun(server.ctx, run.id, 'test')).rejects.toThrow(/only a source's runs can be re-applied/);
  });

  it('refuses the whole request when one change sets a locked field, is invalid like a source row would be, or removes a source membership', async () => {
    const before = await last();
    const runs = Number((await db()('runs').count({ n: '*' }))[0]!.n);
    const response = await post([
      { op: 'update', key: 'u1001', fields: { 'custom.lastSeen': 'today' } },
      { op: 'update', key: 'u1000', fields: { firstName: 'Changed' } },
      { op: 'create', key: 'app2', fields: { email: 'not an address', firstName: 'A', lastName: 'B' } },
      { op: 'update', key: 'u1002', removeGroups: ['staff'] },
      { op: 'delete', key: 'nobody' },
    ]);
    expect(response.status).toBe(422);
    const body = (await response.json()) as { problems: { code: string; message: string; pointer: string }[] };
    expect(body.problems.map((p) => [p.pointer, p.code])).toEqual([
      ['/changes/1/fields/firstName', 'value_invalid'],
      ['/changes/2', 'email_invalid'],
      ['/changes/3/removeGroups', 'value_invalid'],
      ['/changes/4', 'membership_unknown_user'],
    ]);
    expect(body.problems[0]!.message).toBe('firstName is locked: the source owns it');
    expect(await last()).toBe(before);
    expect(Number((await db()('runs').count({ n: '*' }))[0]!.n)).toBe(runs);
    expect((await user('u1001')).fields).not.toHaveProperty('custom.lastSeen');
  });

  it('deletes a user the application created, and takes only write tokens of the feed', async () => {
    expect((await post([{ op: 'delete', key: 'app1' }], read)).status).toBe(403);
    expect((await post([{ op: 'delete', key: 'app1' }], sourceKey)).status).toBe(401);
    const response = await post([{ op: 'delete', key: 'app1' }]);
    expect(response.status).toBe(201);
    expect(await db()('directory_users').where({ user_key: 'app1' }).first()).toBeUndefined();
    expect(await db()('directory_memberships').where({ user_key: 'app1' }).first()).toBeUndefined();
  });

  it('does not call a mapped field locked once the feed gives it to the application, and keeps the value the application set', async () => {
    await addFeed(db(), 'shared', { settings: { holdFirstRun: false } });
    const first = await importFolder(server.ctx, 'shared', await copySample('basic'));
    expect(first.state).toBe('applied');
    // The timeline says what the run did in words.
    expect((await runEvents(db(), first.id)).find((e) => e.state === 'applied')?.message).toBe('applied (users 150 created; groups 5 created; memberships 295 added)');
    const { token } = await createAppToken(db(), { name: 'app of shared', feeds: ['shared'], scope: 'write' });
    const shown = async () => (await (await fetch(`${server.url}/api/v1/feeds/shared/users/u1002`, { headers: { authorization: `Bearer ${token}` } })).json()) as { lockedFields: string[]; fields: Record<string, unknown> };
    expect((await shown()).lockedFields).toContain('country');
    await setFeedSetting(db(), 'shared', 'appOwnedFields', 'country');
    expect((await shown()).lockedFields).not.toContain('country');
    expect((await shown()).lockedFields).toContain('email');
    const response = await fetch(`${server.url}/api/v1/feeds/shared/app-changes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ changes: [{ op: 'update', key: 'u1002', fields: { country: 'BE' } }] }),
    });
    expect(response.status, await response.text()).toBe(201);
    const again = await importFolder(server.ctx, 'shared', await copySample('basic'));
    expect(again.state).toBe('applied');
    expect(again.counts.users).toMatchObject({ updated: 0, created: 0 });
    expect((await runEvents(db(), again.id)).find((e) => e.state === 'applied')?.message).toBe('applied (nothing changed)');
    expect((await shown()).fields).toMatchObject({ country: 'BE' });
  });

  it('keeps the fields the feed lists in appOwnedFields through the next source run, which overwrites the others', async () => {
    const feeds = { owned: 'custom.lastSeen,title', plain: '' };
    for (const [slug, owned] of Object.entries(feeds)) {
      await addFeed(db(), slug, { settings: { holdFirstRun: false } });
      if (owned) await setFeedSetting(db(), slug, 'appOwnedFields', owned);
      expect((await importFolder(server.ctx, slug, await copySample('basic'))).state).toBe('applied');
      const { token } = await createAppToken(db(), { name: `app of ${slug}`, feeds: [slug], scope: 'write' });
      const response = await fetch(`${server.url}/api/v1/feeds/${slug}/app-changes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ changes: [{ op: 'update', key: 'u1001', fields: { 'custom.lastSeen': '2026-11-28T06:00:00Z', title: 'Dr' } }] }),
      });
      expect(response.status).toBe(201);
      const before = await last();
      // The source changes u1001's last name: its whole record is written again.
      const run = await importFolder(server.ctx, slug, await copySample('changes'));
      expect(run.state, JSON.stringify(run.holdReasons)).toBe('applied');
      const row = await db()('directory_users').join('feeds', 'feeds.id', 'directory_users.feed_id').where({ 'feeds.slug': slug, user_key: 'u1001' }).first('last_name', 'title', 'custom');
      const logged = (await readChanges(db(), { after: before, limit: 10_000 })).changes.find((c) => c.entity === 'user' && c.entityKey === 'u1001');
      if (owned) {
        expect(row).toMatchObject({ last_name: 'Schmidt-Weber', title: 'Dr' });
        expect(JSON.parse(row.custom)).toEqual({ department: 'Chemistry', lastSeen: '2026-11-28T06:00:00Z' });
        expect(logged).toMatchObject({ operation: 'update', before: { lastName: 'Okafor' }, after: { lastName: 'Schmidt-Weber' } });
        expect(Object.keys(logged!.after!)).toEqual(['lastName']);
      } else {
        // Not the application's: the source's record is the user's record again, and the log says so.
        expect(row).toMatchObject({ last_name: 'Schmidt-Weber', title: null });
        expect(logged).toMatchObject({ operation: 'update', before: { lastName: 'Okafor', title: 'Dr' }, after: { lastName: 'Schmidt-Weber', title: null } });
        expect(JSON.parse(row.custom)).toEqual({ department: 'Chemistry' });
        // Also when the source sends the very record it sent before the application's change:
        // the user is read again, not skipped as unchanged.
        const again = await fetch(`${server.url}/api/v1/feeds/${slug}/app-changes`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ changes: [{ op: 'update', key: 'u1001', fields: { title: 'Prof' } }] }),
        });
        expect(again.status, await again.text()).toBe(201);
        const beforeSame = await last();
        const same = await importFolder(server.ctx, slug, await copySample('changes'));
        expect(same.unchangedRows).toBe(same.counts.users.unchanged);
        expect(await db()('directory_users').join('feeds', 'feeds.id', 'directory_users.feed_id').where({ 'feeds.slug': slug, user_key: 'u1001' }).first('title')).toEqual({ title: null });
        // Clearing what the application set is a change like any other: counted, shown for
        // review and logged, although the source's record itself did not change.
        expect(same.counts.users.updated).toBe(1);
        const cleared = (await readChanges(db(), { after: beforeSame, limit: 10_000 })).changes.filter((c) => c.entity === 'user');
        expect(cleared).toMatchObject([{ operation: 'update', entityKey: 'u1001', before: { title: 'Prof' }, after: { title: null } }]);
      }
    }
  });
});
