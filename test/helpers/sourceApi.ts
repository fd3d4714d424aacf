import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SourceUser {
  id: string;
  email: string;
  first: string;
  last: string;
}

export const people = (n: number, from = 1): SourceUser[] =>
  Array.from({ length: n }, (_, i) => ({ id: `p${from + i}`, email: `p${from + i}@example.org`, first: `First${from + i}`, last: `Last${from + i}` }));

/**
 * A source system's API, real HTTP on a local port: basic, bearer and OAuth 2 (client
 * credentials, refresh tokens that rotate and die when used), paging three ways, CSV, failures.
 */
export async function startSourceApi() {
  const state = {
    users: people(9),
    hits: [] as string[],
    refreshTokens: new Set(['rt-1']),
    accessTokens: new Set<string>(),
    issued: 0,
    tokenRequests: [] as Record<string, string>[],
    /** Where the `/elsewhere/…` endpoints point: a URL on another origin. */
    elsewhere: '',
  };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const page = (url: URL) => Math.max(1, Number(url.searchParams.get('page') ?? 1));
  const slice = (n: number) => state.users.slice((n - 1) * 3, n * 3);

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    state.hits.push(`${req.method} ${url.pathname}${url.search}`);
    const auth = req.headers.authorization ?? '';
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const one = /^\/oauth\/users\/([^/]+)$/.exec(url.pathname);
    if (one) {
      if (!state.accessTokens.has(auth.replace(/^Bearer /, ''))) return json(res, 401, { error: 'invalid_token', error_description: 'the access token expired' });
      const user = state.users.find((u) => u.id === decodeURIComponent(one[1]!));
      return user ? json(res, 200, user) : json(res, 404, { error: 'no such user' });
    }
    switch (url.pathname) {
      case '/basic/users':
        if (auth !== `Basic ${Buffer.from('alice:s3cret-pass').toString('base64')}`) return json(res, 401, { error: 'bad credentials' }, { 'www-authenticate': 'Basic' });
        return json(res, 200, state.users);
      case '/bearer/users':
        if (auth !== 'Bearer tok-123-secret') return json(res, 401, { error: 'bad token' });
        return json(res, 200, { data: { users: state.users } });
      case '/oauth/token': {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = Object.fromEntries(new URLSearchParams(body));
        state.tokenRequests.push(form);
        if (form.grant_type === 'refresh_token') {
          if (!state.refreshTokens.has(form.refresh_token ?? '')) return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token unknown or used' });
          state.refreshTokens.delete(form.refresh_token!);
        } else if (form.grant_type !== 'client_credentials' || form.client_secret !== 'cs-secret') {
          return json(res, 401, { error: 'invalid_client' });
        }
        const access = `at-${++state.issued}`;
        state.accessTokens.add(access);
        const rotated = form.grant_type === 'refresh_token' ? `rt-${state.issued + 1}` : undefined;
        if (rotated) state.refreshTokens.add(rotated);
        return json(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 3600, ...(rotated && { refresh_token: rotated }) });
      }
      case '/oauth/users':
        if (!state.accessTokens.has(auth.replace(/^Bearer /, ''))) return json(res, 401, { error: 'invalid_token', error_description: 'the access token expired' });
        return json(res, 200, state.users);
      case '/paged/next': {
        const n = page(url);
        return json(res, 200, { items: slice(n), next: n < 3 ? `${base}/paged/next?page=${n + 1}` : null });
      }
      case '/paged/link': {
        const n = page(url);
        return json(res, 200, slice(n), n < 3 ? { link: `<${base}/paged/link?page=${n + 1}>; rel="next"` } : {});
      }
      case '/paged/cursor': {
        const n = Number(url.searchParams.get('after') ?? 0);
        return json(res, 200, { items: state.users.slice(n, n + 3), meta: { cursor: n + 3 < state.users.length ? String(n + 3) : null } });
      }
      case '/paged/number':
        return json(res, 200, { items: slice(page(url)) });
      case '/paged/csv': {
        res.writeHead(200, { 'content-type': 'text/csv' });
        return res.end(['id,email,first,last', ...slice(page(url)).map((u) => `${u.id},${u.email},${u.first},${u.last}`)].join('\r\n') + '\r\n');
      }
      case '/elsewhere/next':
        return json(res, 200, { items: slice(1), next: state.elsewhere });
      case '/elsewhere/link':
        return json(res, 200, slice(1), { link: `<${state.elsewhere}>; rel="next"` });
      case '/elsewhere/redirect':
        res.writeHead(302, { location: state.elsewhere });
        return res.end();
      case '/redirect/bearer':
        res.writeHead(307, { location: `${base}/bearer/users` });
        return res.end();
      case '/echo-error':
        // Some APIs quote the request, query string and all, in their error answers.
        return json(res, 400, { error: `invalid request ${base}${req.url}` });
      case '/broken':
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end(`Internal Server Error\n\n  the database is down (ref ${'x'.repeat(300)})`);
      case '/slow':
        return setTimeout(() => json(res, 200, state.users), 5_000);
      default:
        return json(res, 404, { error: 'no such endpoint' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type SourceApi = Awaited<ReturnType<typeof startSourceApi>>;
