import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdmin } from '../../src/admins/admins.service.js';
import { SIGN_IN_LIMITS } from '../../src/admins/sessions.service.js';
import { testDatabases } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';

const password = 'correct horse battery staple';
const GUESSES = 40;

/**
 * Parallel guessing against real servers: every request is a real sign-in form POST, all sent
 * at once. On MySQL two servers share the database, as several Sluice processes would, and the
 * guesses are spread over both.
 */
describe.each(testDatabases)('sign-in limits under parallel guessing on $name', (database) => {
  let servers: Awaited<ReturnType<typeof startTestServer>>[] = [];
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    const created = await database.create();
    dropDatabase = created.drop;
    // Behind a proxy, so each test can guess from its own client address (X-Forwarded-For).
    const env = { DATABASE_URL: created.url, SLUICE_TRUST_PROXY: 'true' };
    servers.push(await startTestServer(env));
    if (database.name === 'mysql') servers.push(await startTestServer(env));
    await addAdmin(servers[0]!.ctx.database.knex, { email: 'target@example.org', role: 'admin', password, actor: 'test' });
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    servers = [];
    await dropDatabase?.();
  });

  /** The sign-in form's double-submit token and cookie, as a browser would have them. */
  async function signInForm(baseUrl: string, address: string) {
    const page = await fetch(`${baseUrl}/admin/sign-in`, { headers: { 'x-forwarded-for': address } });
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return { token, cookie };
  }

  /** Sends every guess at once, alternating between the servers; returns the answers' statuses. */
  async function guessAll(address: string | ((i: number) => string), guesses: { email: string; password: string }[]): Promise<number[]> {
    const addressOf = typeof address === 'string' ? () => address : address;
    const forms = await Promise.all(servers.map((s) => signInForm(s.url, addressOf(0))));
    return Promise.all(
      guesses.map(async (guess, i) => {
        const server = servers[i % servers.length]!;
        const form = forms[i % servers.length]!;
        const response = await fetch(`${server.url}/admin/sign-in`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, 'x-forwarded-for': addressOf(i) },
          body: new URLSearchParams({ _csrf: form.token, ...guess, next: '/admin' }).toString(),
        });
        await response.text();
        return response.status;
      }),
    );
  }

  const tally = (statuses: number[]) => ({ checked: statuses.filter((s) => s !== 429).length, refused: statuses.filter((s) => s === 429).length });

  it(`checks at most ${SIGN_IN_LIMITS.perEmail} of ${GUESSES} simultaneous guesses for one account, then refuses even the right password`, async () => {
    const statuses = await guessAll('198.51.100.1', Array.from({ length: GUESSES }, (_, i) => ({ email: 'target@example.org', password: `guess number ${i}` })));
    // Every answer that is not "too many attempts" is a password that was checked.
    expect(tally(statuses)).toEqual({ checked: SIGN_IN_LIMITS.perEmail, refused: GUESSES - SIGN_IN_LIMITS.perEmail });
    expect(new Set(statuses)).toEqual(new Set([401, 429]));

    const [right] = await guessAll('198.51.100.99', [{ email: 'Target@Example.org', password }]);
    expect(right).toBe(429);
  });

  it(`checks at most ${SIGN_IN_LIMITS.perAddress} of ${GUESSES} simultaneous guesses from one address, each for another account`, async () => {
    const statuses = await guessAll('198.51.100.2', Array.from({ length: GUESSES }, (_, i) => ({ email: `someone${i}@example.org`, password: `guess number ${i}` })));
    expect(tally(statuses)).toEqual({ checked: SIGN_IN_LIMITS.perAddress, refused: GUESSES - SIGN_IN_LIMITS.perAddress });

    // An address the client wrote into X-Forwarded-For itself does not make it another client:
    // the proxy appended the real one.
    const spoofed = await guessAll((i) => `203.0.113.${i}, 198.51.100.4`, Array.from({ length: GUESSES }, (_, i) => ({ email: `spoof${i}@example.org`, password: `guess number ${i}` })));
    expect(tally(spoofed)).toEqual({ checked: SIGN_IN_LIMITS.perAddress, refused: GUESSES - SIGN_IN_LIMITS.perAddress });

    // Another address is not held back by this one, and a right password signs in.
    await addAdmin(servers[0]!.ctx.database.knex, { email: 'other@example.org', role: 'viewer', password, actor: 'test' });
    const [signedIn] = await guessAll('198.51.100.3', [{ email: 'other@example.org', password }]);
    expect(signedIn).toBe(302);
  });
});
