import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin, type AdminRole } from '../../src/admins/admins.service.js';
import { addFeed, getFeed, updateFeedSettings } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { artifacts, launchBrowser, overflow, signedIn, skipBrowser } from './browser.js';

const password = 'correct horse battery staple';
const roles: AdminRole[] = ['viewer', 'operator', 'admin'];

describe.skipIf(skipBrowser)('every admin page, as each role, at 1280 and 390 px', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const runs = { held: 0, failed: 0, applied: 0 };
  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
    const db = server.ctx.database.knex;
    for (const role of roles) await addAdmin(db, { email: `${role}@example.org`, role, password, actor: 'test' });
    runs.applied = (await importFolder(server.ctx, 'demo', join(samples, 'basic'))).id;
    await approveRun(server.ctx, runs.applied, 'test');
    expect((await importFolder(server.ctx, 'demo', join(samples, 'changes'))).state).toBe('applied');
    runs.held = (await importFolder(server.ctx, 'demo', join(samples, 'mass-removal'))).id;
    // A feed that tolerates no bad row: the row-level sample fails there.
    await addFeed(db, 'strict');
    await updateFeedSettings(db, 'strict', { maxErrorRows: '0' }, 'test');
    const failed = await importFolder(server.ctx, 'strict', join(samples, 'invalid', 'row-level'));
    expect(failed.state).toBe('failed');
    runs.failed = failed.id;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** The pages a role may open; the crawl adds every admin link it finds on them. */
  const start = (role: AdminRole) => [
    '/admin',
    '/admin/runs',
    `/admin/runs/${runs.held}`,
    `/admin/runs/${runs.failed}`,
    `/admin/runs/${runs.applied}`,
    '/admin/feeds/demo/settings',
    '/admin/users?q=u1000',
    '/admin/groups?feed=demo',
    ...(role === 'viewer' ? [] : [`/admin/runs/${runs.held}/confirm/apply`]),
    ...(role === 'admin' ? ['/admin/feeds/demo/keys', '/admin/audit', '/admin/mail', '/admin/accounts'] : []),
  ];
  /** Pages that are files or that would act (sign-out, confirmations other than the one above). */
  const skipped = (path: string) => /\.csv$|\/files\/|\/sign-out|\/confirm\/|\/revoke$|[?&]page=[3-9]/.test(path);

  async function check(page: Page, path: string, width: number, label: string) {
    const response = await page.goto(`${server.url}${path}`);
    expect(response?.status(), `${label} ${path}`).toBe(200);
    expect(await page.locator('main').count(), `${label} ${path}`).toBe(1);
    expect(await page.title(), `${label} ${path}`).not.toMatch(/error|not found|forbidden/i);
    expect(await overflow(page), `${label} ${path} is wider than ${width} px`).toBeLessThanOrEqual(0);
    expect(await page.getByRole('link', { name: 'Accounts' }).count() > 0 || !label.startsWith('admin'), `${label} header`).toBe(true);
    if (label.startsWith('admin')) expect(await page.getByRole('link', { name: 'Accounts' }).first().isVisible(), `${label} ${path}: Accounts in the header`).toBe(true);
  }

  for (const width of [1280, 390]) {
    for (const role of roles) {
      it(`${role} at ${width} px: every page fits, none is an error, unchanged forms change nothing`, async () => {
        const page = await signedIn(browser, server.url, `${role}@example.org`, password, width);
        const seen = new Set<string>();
        const queue = start(role);
        while (queue.length) {
          const path = queue.shift()!;
          if (seen.has(path) || skipped(path)) continue;
          seen.add(path);
          await check(page, path, width, `${role} ${width}`);
          if (role === 'admin' || role === 'viewer') {
            const name = path.replace(/^\/admin\/?/, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'dashboard';
            if (seen.size <= 14) {
              await page.screenshot({ path: join(artifacts, `crawl-${role}-${width}-${name}.png`), fullPage: true });
              // What the first screen shows, where the eye lands.
              await page.screenshot({ path: join(artifacts, `crawl-${role}-${width}-${name}-top.png`) });
            }
          }
          const links = await page.locator('main a[href^="/admin"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!.split('#')[0]!));
          for (const link of links) if (!seen.has(link) && seen.size + queue.length < 60) queue.push(link);
        }
        expect(seen.size).toBeGreaterThan(8);

        // Every search and filter form submitted as it is shows a page, not an error.
        for (const path of ['/admin/runs', `/admin/runs/${runs.held}`, '/admin/users?q=u10', '/admin/groups?feed=demo', ...(role === 'admin' ? ['/admin/mail'] : [])]) {
          await page.goto(`${server.url}${path}`);
          const form = page.locator('main form[method="get"]').first();
          expect(await form.locator('button[type="submit"]').count(), `a submit button on ${path}`).toBeGreaterThan(0);
          await Promise.all([page.waitForLoadState(), form.locator('button[type="submit"]').first().click()]);
          await check(page, new URL(page.url()).pathname + new URL(page.url()).search, width, `${role} ${width} (form of ${path})`);
        }
        // The settings form saved unchanged saves, and changes nothing.
        if (role === 'admin') {
          const before = (await getFeed(server.ctx.database.knex, 'demo')).settings;
          await page.goto(`${server.url}/admin/feeds/demo/settings`);
          await page.getByRole('button', { name: 'Save settings' }).click();
          await page.getByText('Settings of demo saved.').waitFor();
          expect((await getFeed(server.ctx.database.knex, 'demo')).settings).toEqual(before);
        }
        await page.context().close();
      }, 120_000);
    }
  }
});
