import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDirectoryUser } from '../../src/directory/directory.service.js';
import { getFeed } from '../../src/feeds/feeds.service.js';
import { approveRun } from '../../src/runs/runActions.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples } from '../helpers/uploads.js';
import { artifacts, launchBrowser, overflow, signedIn, skipBrowser } from './browser.js';

describe.skipIf(skipBrowser)('reviewing a mass-removal run in a real browser', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('names each suspended user with their e-mail, filters to suspensions and searches, and links to the lookup', async () => {
    await approveRun(server.ctx, (await importFolder(server.ctx, 'demo', join(samples, 'basic'))).id, 'test');
    expect((await importFolder(server.ctx, 'demo', join(samples, 'changes'))).state).toBe('applied');
    const run = await importFolder(server.ctx, 'demo', join(samples, 'mass-removal'));
    expect(run.state).toBe('held');

    // The README's picture of a held run: its reasons, the per-field summary and named users.
    const readme = await signedIn(browser, server.url, server.firstAdmin!.email, server.firstAdmin!.password);
    await readme.setViewportSize({ width: 1280, height: 1500 });
    await readme.goto(`${server.url}/admin/runs/${run.id}?change=user:suspend`);
    await readme.screenshot({ path: join(artifacts, 'readme-run-page.png') });
    await readme.context().close();

    for (const width of [1280, 390]) {
      const page = await signedIn(browser, server.url, server.firstAdmin!.email, server.firstAdmin!.password, width);
      await page.goto(`${server.url}/admin/runs/${run.id}`);
      await page.getByLabel('Operation').selectOption({ label: 'users suspended' });
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByRole('heading', { name: 'Change set: users suspended' }).waitFor();
      expect(await page.locator('.pager').innerText()).toContain('Page 1 of 2 (51 in all)');
      const firstKey = (await page.locator('#changes tbody a.mono').first().innerText()).trim();
      const feed = await getFeed(server.ctx.database.knex, 'demo');
      const user = await getDirectoryUser(server.ctx.database.knex, feed.id, firstKey);
      const field = (name: string) => String(user.fields.find((f) => f.name === name)?.value);
      const row = await page.locator('#changes tbody tr').first().innerText();
      expect(row).toContain(`${field('firstName')} ${field('lastName')}`);
      expect(row).toContain(field('email'));
      expect(row).toContain('user suspend');
      expect(await overflow(page), `page wider than ${width} px`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(artifacts, `review-top-${width}.png`) });
      await page.locator('#changes').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(artifacts, `review-suspended-${width}.png`) });

      // Searching by part of the e-mail, in other letter case, finds that user among the suspensions.
      await page.getByLabel('Name, e-mail or key').fill(field('email').slice(0, field('email').indexOf('@')).toUpperCase());
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByRole('heading', { name: /users suspended matching/ }).waitFor();
      expect(await page.locator('#changes tbody').innerText()).toContain(field('email'));

      await page.getByRole('link', { name: firstKey, exact: true }).first().click();
      await page.waitForURL(`**/admin/feeds/demo/users/${encodeURIComponent(firstKey)}`);
      expect(await page.locator('main').innerText()).toContain(field('email'));
      await page.context().close();
    }
  });
});
