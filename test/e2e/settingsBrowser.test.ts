import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFeed } from '../../src/feeds/feeds.service.js';
import { feedSecretNames } from '../../src/feeds/feedSecrets.js';
import { startTestServer } from '../helpers/server.js';
import { artifacts, launchBrowser, signedIn, skipBrowser } from './browser.js';

describe.skipIf(skipBrowser)('feed settings edited in a real browser', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    server = await startTestServer({ SLUICE_SECRET_KEY: 'a'.repeat(64) });
    browser = await launchBrowser();
    page = await signedIn(browser, server.url, server.firstAdmin!.email, server.firstAdmin!.password);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const box = (name: string) => page.locator(`[name="${name}"]`);
  const save = async () => {
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.waitForLoadState();
  };

  it('shows every setting as its value, saves it unchanged, and saves each kind of setting as typed', async () => {
    await page.goto(`${server.url}/admin/feeds/demo/settings`);
    // Each box holds the setting as typed, never a template's internals.
    expect(await box('maxUserRemovals').inputValue()).toBe('500');
    expect(await box('schedule').inputValue()).toBe('off');
    expect(await page.content()).not.toContain('"hash"');
    await page.screenshot({ path: join(artifacts, 'settings-1280.png'), fullPage: true });
    const before = (await getFeed(server.ctx.database.knex, 'demo')).settings;
    await save();
    await page.getByText('Settings of demo saved.').waitFor();
    expect((await getFeed(server.ctx.database.knex, 'demo')).settings).toEqual(before);

    await box('autoApply').selectOption('false'); // a yes/no
    await box('maxUserRemovals').fill('7'); // a number
    await box('maxUserRemovalPercent').fill('2.5'); // a percent
    await box('reportEmails').fill('ops@example.org, lead@example.org'); // a list
    await box('invitationSubject').fill('Welcome, {{firstName}}'); // text
    await box('schedule').fill('daily 06:30'); // a schedule
    await box('onMissing').selectOption('keep'); // a choice
    await box('pullPassword').fill('s3cret'); // a secret
    await save();
    await page.getByText('Settings of demo saved.').waitFor();

    const settings = (await getFeed(server.ctx.database.knex, 'demo')).settings;
    expect(settings).toMatchObject({ autoApply: false, maxUserRemovals: 7, maxUserRemovalPercent: 2.5, reportEmails: ['ops@example.org', 'lead@example.org'], invitationSubject: 'Welcome, {{firstName}}', schedule: 'daily 06:30', onMissing: 'keep' });
    expect(await feedSecretNames(server.ctx, (await getFeed(server.ctx.database.knex, 'demo')).id)).toContain('pullPassword');
    // Read back on the page as saved.
    expect(await box('autoApply').inputValue()).toBe('false');
    expect(await box('maxUserRemovals').inputValue()).toBe('7');
    expect(await box('maxUserRemovalPercent').inputValue()).toBe('2.5');
    expect(await box('reportEmails').inputValue()).toBe('ops@example.org, lead@example.org');
    expect(await box('invitationSubject').inputValue()).toBe('Welcome, {{firstName}}');
    expect(await box('schedule').inputValue()).toBe('daily 06:30');
    expect(await box('pullPassword').inputValue()).toBe('');
    expect(await page.locator('label[for="s-pullPassword"]').innerText()).toContain('set');
  });

  it('refuses a wrong value beside its field, keeps what was typed, and saves nothing', async () => {
    await page.goto(`${server.url}/admin/feeds/demo/settings`);
    const before = (await getFeed(server.ctx.database.knex, 'demo')).settings;
    await box('maxUserRemovals').fill('-5');
    await box('schedule').fill('every tuesday');
    await save();
    await page.getByText('Nothing was saved').waitFor();
    expect(await box('maxUserRemovals').inputValue()).toBe('-5');
    expect(await box('schedule').inputValue()).toBe('every tuesday');
    expect(await page.locator('#e-maxUserRemovals').innerText()).not.toBe('');
    expect(await page.locator('#e-schedule').innerText()).not.toBe('');
    expect(await box('maxUserRemovals').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: join(artifacts, 'settings-error-1280.png'), fullPage: true });
    expect((await getFeed(server.ctx.database.knex, 'demo')).settings).toEqual(before);
  });
});
