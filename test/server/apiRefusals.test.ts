import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.js';

describe('refusals of the HTTP API, and the favicon', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  it('answers a wrong method with 405 as JSON, naming the allowed ones', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const response = await fetch(`${server.url}/api/v1/feeds/demo/files/people.csv`, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('content-type'), method).toContain('application/json');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('method_not_allowed');
      expect(body.error.message).toContain('PUT');
    }
    const missing = await fetch(`${server.url}/api/v1/nothing`);
    expect([missing.status, ((await missing.json()) as { error: { code: string } }).error.code]).toEqual([404, 'not_found']);
    const unauthorized = await fetch(`${server.url}/api/v1/feeds/demo/files/people.csv`, { method: 'PUT', body: 'x' });
    expect([unauthorized.status, ((await unauthorized.json()) as { error: { code: string } }).error.code]).toEqual([401, 'unauthorized']);
  });

  it('serves a favicon', async () => {
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toContain('image/svg+xml');
      expect(await response.text()).toContain('<svg');
    }
  });
});
