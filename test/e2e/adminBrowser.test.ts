import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveRun } from '../../src/runs/runActions.js';
import { getRun } from '../../src/runs/runs.service.js';
import { startTestServer } from '../helpers/server.js';
import { importFolder, samples } from '../helpers/uploads.js';

/**
 * Debian's Chromium, driven by playwright-core (which never downloads a browser). Required:
 * `.ci/run` installs it; SLUICE_TEST_BROWSER=skip leaves this out on a machine without one.
 */
const executablePath = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const skip = process.env.SLUICE_TEST_BROWSER === 'skip';
const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts');

describe.skipIf(skip)('the admin page in a real browser', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(executablePath)) throw new Error(`Chromium is required at ${executablePath} (apt-get install chromium), or set SLUICE_TEST_BROWSER=skip`);
    await mkdir(artifacts, { recursive: true });
    server = await startTestServer();
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in with the first account, opens a held run, sees why and what, applies it through the confirmation', async () => {
    // The feed's first run is applied; then a third of its users go missing: held by the removal rule.
    await approveRun(server.ctx, (await importFolder(server.ctx, 'demo', join(samples, 'basic'))).id, 'test');
    expect((await importFolder(server.ctx, 'demo', join(samples, 'changes'))).state).toBe('applied');
    const run = await importFolder(server.ctx, 'demo', join(samples, 'mass-removal'));
    expect(run.state).toBe('held');
    expect(server.firstAdmin?.email).toBe('admin@localhost');

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${server.url}/admin`);
    await expect.poll(() => page.url()).toContain('/admin/sign-in');
    await page.getByLabel('Email address').fill(server.firstAdmin!.email);
    await page.getByLabel('Password').fill(server.firstAdmin!.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Held runs waiting for a decision' }).waitFor();
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });

    await page.getByRole('link', { name: `Run ${run.id}` }).first().click();
    await page.getByRole('heading', { name: 'Held because' }).waitFor();
    expect(await page.locator('.reasons').innerText()).toContain('maxUserRemovalPercent: 51 of 148 users (34.5 %) would be suspended or deleted; the limit is 10 %');
    await page.screenshot({ path: join(artifacts, 'run-page.png') });
    await page.getByRole('link', { name: 'users suspended' }).click();
    await page.getByRole('heading', { name: 'Change set: users suspended' }).waitFor();
    expect(await page.locator('#changes tbody').innerText()).toMatch(/user suspend\s+\S+ Larsen\s+\S+@example\.org\s+u\d+\s+state\s+active\s+suspended/);
    expect(await page.locator('.pager').innerText()).toContain('Page 1 of 2 (51 in all)');
    await page.screenshot({ path: join(artifacts, 'run-page-suspended.png'), fullPage: true });

    await page.getByRole('link', { name: 'Apply…' }).click();
    await page.getByRole('heading', { name: `Apply run ${run.id} of demo?` }).waitFor();
    expect(await page.locator('main table').innerText()).toMatch(/users suspended\s+51\n[\s\S]*memberships removed\s+\d+/);
    await page.getByLabel(/^Comment/).fill('Checked with HR: these 51 left in October.');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText(`Apply: run ${run.id} is now applied.`).waitFor();
    expect(await page.locator('h1 .state').innerText()).toBe('applied');
    await page.screenshot({ path: join(artifacts, 'run-applied.png') });
    expect(await page.locator('ol').innerText()).toContain('comment on apply: Checked with HR: these 51 left in October.');
    expect((await getRun(server.ctx.database.knex, run.id)).state).toBe('applied');
  });
});
