import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { getFeed } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { claimNextRun } from '../../src/pipeline/queue.js';
import { AdminClient } from '../helpers/admin.js';
import { startTestServer } from '../helpers/server.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

const password = 'correct horse battery staple';

/** The run page tells an administrator whether the unsafe cancel would stop a live worker. */
describe('the page of a run in progress', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let client: AdminClient;
  beforeAll(async () => {
    server = await startTestServer();
    await addAdmin(server.ctx.database.knex, { email: 'op@example.org', role: 'operator', password, actor: 'test' });
    client = new AdminClient(server.url);
    await client.signIn('op@example.org', password);
  });
  afterAll(async () => server?.stop());

  it('names the live worker holding it, then says when its lease ran out', async () => {
    const { ctx } = server;
    const feed = await getFeed(ctx.database.knex, 'demo');
    const run = await runFromFolder(ctx, feed, join(samples, 'basic'), { keepSource: true });
    // This process claims the run as a worker does, with a lease of one second it never renews.
    const worker = { ...ctx, leaseSeconds: 1 };
    expect(await claimNextRun(worker)).toBe(run.id);

    const live = await client.get(`/admin/runs/${run.id}`);
    expect(live.text).toContain(`A live worker holds this run: <code>${ctx.workerId}</code>, last heartbeat`);
    const confirm = await client.get(`/admin/runs/${run.id}/confirm/mark-cancelled`);
    expect(confirm.text).toContain(`A live worker (${ctx.workerId}) holds it: it stops at its next batch and rolls back what it has not committed.`);

    const dead = await until('the lease to run out', async () => {
      const page = await client.get(`/admin/runs/${run.id}`);
      return page.text.includes('No live worker holds this run') && page;
    });
    expect(dead.text).toContain(`No live worker holds this run: <code>${ctx.workerId}</code> last sent a heartbeat`);
  });
});
