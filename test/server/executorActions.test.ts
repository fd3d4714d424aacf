import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { createPersonalToken } from '../../src/admins/personalTokens.service.js';
import { addFeed, getFeed } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { getRun, runEvents } from '../../src/runs/runs.service.js';
import { AdminClient } from '../helpers/admin.js';
import { writeBigSet } from '../helpers/bigSet.js';
import { startTestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

// The admin page asks; the server's executor thread does the work; the page answers meanwhile.
describe('admin actions handed to the run executor', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let admin: AdminClient;
  beforeAll(async () => {
    server = await startTestServer({}, { jobs: true });
    await addAdmin(server.ctx.database.knex, { email: 'op@example.org', role: 'operator', password: 'a long enough password 1', actor: 'test' });
    admin = new AdminClient(server.url);
    expect((await admin.signIn('op@example.org', 'a long enough password 1')).location).toBe('/admin');
  });
  afterAll(async () => server?.stop());

  it('answers Apply of a 100 000-user held run at once and stays responsive while the executor applies it, once', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'big');
    const feed = await getFeed(db, 'big');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-big-')), 100_000);
    const run = await runFromFolder(server.ctx, feed, folder, { keepSource: true });
    // A feed's first run is held.
    await until('the run to be held', async () => (await getRun(db, run.id)).state === 'held', 180_000);

    const csrf = await admin.csrf();
    const started = Date.now();
    const answer = await admin.post(`/admin/runs/${run.id}/apply`, { comment: 'looks right' }, { csrf });
    const answeredIn = Date.now() - started;
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(`/admin/runs/${run.id}`);
    // Done on the HTTP thread, the apply held the request (2 s at least before it was sent on).
    expect(answeredIn).toBeLessThan(1_000);

    // While the run applies, a page that needs the event loop only answers quickly.
    const slowest: number[] = [];
    await until(
      'the run to be applied',
      async () => {
        const t = Date.now();
        expect((await admin.get('/admin/sign-in')).status).toBeLessThan(400);
        slowest.push(Date.now() - t);
        return (await getRun(db, run.id)).state === 'applied';
      },
      180_000,
    );
    expect(slowest.length).toBeGreaterThan(2);
    expect(Math.max(...slowest), JSON.stringify(slowest)).toBeLessThan(500);

    const events = await runEvents(db, run.id);
    expect(events.filter((e) => e.state === 'applied')).toHaveLength(1);
    expect(events.filter((e) => e.state === 'applying')[0]?.actor).toBe('op@example.org');
    expect(Number((await db('directory_users').where({ feed_id: feed.id }).count({ n: '*' }))[0]!.n)).toBe(100_000);
    const audits = await db('audit_log').where({ action: 'run.apply', target: `run ${run.id}` });
    expect(audits.map((a) => a.actor)).toEqual(['op@example.org']);
    expect(await db('run_requests').count({ n: '*' }).first()).toMatchObject({ n: 0 });
  }, 400_000);

  it('hands an Apply over the API to the executor too: 202 at once, a wrong state refused first, applied once', async () => {
    const db = server.ctx.database.knex;
    await addFeed(db, 'api');
    const feed = await getFeed(db, 'api');
    const folder = await writeBigSet(await mkdtemp(join(tmpdir(), 'sluice-api-')), 20_000);
    const run = await runFromFolder(server.ctx, feed, folder, { keepSource: true });
    await until('the run to be held', async () => (await getRun(db, run.id)).state === 'held', 180_000);
    const { token } = await createPersonalToken(db, 'op@example.org', { label: 'release script', actor: 'test' });
    const post = (action: string) => fetch(`${server.url}/api/v1/runs/${run.id}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

    const wrong = await post('revalidate'); // only a failed run is re-validated
    expect(wrong.status).toBe(409);
    const answer = await post('apply');
    expect(answer.status).toBe(202);
    expect(await answer.json()).toMatchObject({ id: run.id, state: 'held' });
    await until('the run to be applied', async () => (await getRun(db, run.id)).state === 'applied', 180_000);
    expect((await runEvents(db, run.id)).filter((e) => e.state === 'applied')).toHaveLength(1);
    expect((await db('audit_log').where({ action: 'run.apply', target: `run ${run.id}` })).map((a) => a.actor)).toEqual([expect.stringMatching(/^token:sluiceadm_/)]);
  }, 400_000);
});
