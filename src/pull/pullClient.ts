import type { Context } from '../context.js';
import type { FeedSettings } from '../core/feedSettings.js';
import { nextFromLinkHeader, recordsAt, valueAt } from '../core/pullResponse.js';
import { redactUrl as safeUrl, redactUrlsIn } from '../core/redactUrl.js';
import type { Feed } from '../feeds/feeds.service.js';
import { getFeedSecret, setFeedSecret } from '../feeds/feedSecrets.js';

/**
 * A pull that could not be completed; the message is safe to show: every URL in it, also one
 * quoted by the network stack or by the API's answer, loses its user-info and query string.
 */
export class PullError extends Error {
  constructor(message: string) {
    super(redactUrlsIn(message));
    this.name = 'PullError';
  }
}

/** A request that sends a file: opened once per attempt, since a stream is read only once. */
export interface RequestBody {
  method: string;
  contentType: string;
  open: () => AsyncIterable<Uint8Array>;
}

export interface PullStats {
  pages: number;
  records: number;
}

const EXCERPT = 200;
const MAX_REDIRECTS = 5;
const excerpt = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT)}…` : flat;
};

/**
 * HTTP against the source system's API: authentication (refreshing an OAuth access token once
 * when it is refused), a timeout per request, and errors that say what answered what.
 */
class ApiSession {
  private accessToken: string | null = null;
  /** Scheme, host and port of `pullUrl`: the only place the feed's credentials are sent. */
  readonly origin: string;

  constructor(
    private readonly ctx: Context,
    private readonly feed: Feed,
    base = feed.settings.pullUrl ?? '',
    private readonly baseName = 'pullUrl',
  ) {
    const url = new URL(base);
    if (url.username || url.password) {
      throw new PullError(`${baseName} carries a user name or password; set pullAuth basic with pullUsername and the secret pullPassword instead`);
    }
    this.origin = url.origin;
  }

  /**
   * Credentials go to the configured origin only: a next page or a redirect elsewhere — which an
   * API's answer, or whoever controls it, can name — stops the pull instead of being followed.
   */
  checkOrigin(url: URL, what: string): URL {
    if (url.origin !== this.origin) {
      throw new PullError(
        `${what} points to ${safeUrl(url)}, on another origin than ${this.baseName} (${this.origin}); Sluice sends the feed's credentials and pullHeaders only to ${this.origin}, so it does not follow it`,
      );
    }
    if (url.username || url.password) throw new PullError(`${what} (${safeUrl(url)}) carries a user name or password; Sluice does not follow it`);
    return url;
  }

  private get settings(): FeedSettings {
    return this.feed.settings;
  }

  private secret(name: string) {
    return getFeedSecret(this.ctx, this.feed.id, name);
  }

  async request(url: URL, body?: RequestBody): Promise<Response> {
    const method = body?.method ?? this.settings.pullMethod;
    const response = await this.send(url, body);
    if (response.status !== 401 || !this.settings.pullAuth.startsWith('oauth')) return this.check(url, response, method);
    // An expired or revoked access token: get a fresh one, once.
    await response.body?.cancel();
    this.accessToken = await this.fetchAccessToken();
    const retried = await this.send(url, body);
    if (retried.status === 401) {
      throw new PullError(`${method} ${safeUrl(url)} refused a freshly issued access token (401): ${excerpt(await retried.text())}`);
    }
    return this.check(url, retried, method);
  }

  private async check(url: URL, response: Response, method: string = this.settings.pullMethod): Promise<Response> {
    if (response.ok) return response;
    throw new PullError(`${method} ${safeUrl(url)} answered ${response.status} ${response.statusText}: ${excerpt(await this.text(url, response))}`);
  }

  /** The body as text, within the request's timeout. */
  async text(url: URL, response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      throw this.networkError(url, error);
    }
  }

  /** One request with the feed's credentials; redirects are followed by hand, on the origin only. */
  private async send(url: URL, body?: RequestBody): Promise<Response> {
    const accept = body ? 'application/json' : this.settings.pullFormat === 'csv' ? 'text/csv' : 'application/json';
    const headers: Record<string, string> = { accept, ...this.settings.pullHeaders };
    const authorization = await this.authorization();
    if (authorization) headers.authorization = authorization;
    if (body) headers['content-type'] = body.contentType;
    let method: string = body?.method ?? this.settings.pullMethod;
    for (let redirects = 0; ; redirects++) {
      let response: Response;
      // A body is streamed, so every attempt (a retry, a 307/308 on the origin) opens it anew.
      const payload = body && method !== 'GET' ? { body: body.open() as unknown as BodyInit, duplex: 'half' } : {};
      try {
        response = await fetch(url, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(this.settings.pullTimeoutSeconds * 1000), ...payload });
      } catch (error) {
        throw this.networkError(url, error);
      }
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) return response;
      await response.body?.cancel();
      if (redirects === MAX_REDIRECTS) throw new PullError(`${method} ${safeUrl(url)} redirected more than ${MAX_REDIRECTS} times`);
      url = this.checkOrigin(new URL(location, url), `${method} ${safeUrl(url)} redirected, and the redirect`);
      if (response.status === 303) method = 'GET';
    }
  }

  private networkError(url: URL, error: unknown): PullError {
    const name = (error as Error)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return new PullError(`${safeUrl(url)} did not answer within ${this.settings.pullTimeoutSeconds} s`);
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    return new PullError(`could not reach ${safeUrl(url)}: ${cause?.code ?? cause?.message ?? (error as Error)?.message ?? 'network error'}`);
  }

  private async authorization(): Promise<string | null> {
    switch (this.settings.pullAuth) {
      case 'none':
        return null;
      case 'basic': {
        const password = (await this.secret('pullPassword')) ?? '';
        return `Basic ${Buffer.from(`${this.settings.pullUsername ?? ''}:${password}`).toString('base64')}`;
      }
      case 'bearer': {
        const token = await this.secret('pullToken');
        if (!token) throw new PullError('bearer authentication needs the secret pullToken');
        return `Bearer ${token}`;
      }
      default:
        this.accessToken ??= (await this.secret('oauthAccessToken')) ?? (await this.fetchAccessToken());
        return `Bearer ${this.accessToken}`;
    }
  }

  /**
   * OAuth 2 token endpoint: client credentials, or a refresh token. A rotated refresh token in the
   * answer replaces the stored one at once — the old one may already be dead.
   */
  private async fetchAccessToken(): Promise<string> {
    const { pullAuth, pullTokenUrl, pullClientId, pullScope } = this.settings;
    const form = new URLSearchParams({ client_id: pullClientId ?? '' });
    const clientSecret = await this.secret('pullClientSecret');
    if (clientSecret) form.set('client_secret', clientSecret);
    if (pullScope) form.set('scope', pullScope);
    if (pullAuth === 'oauth-refresh-token') {
      const refreshToken = await this.secret('pullRefreshToken');
      if (!refreshToken) throw new PullError('oauth-refresh-token authentication needs the secret pullRefreshToken');
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', refreshToken);
    } else {
      form.set('grant_type', 'client_credentials');
    }
    const url = new URL(pullTokenUrl ?? '');
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        // A redirect would carry the client secret and refresh token to wherever it points.
        redirect: 'error',
        signal: AbortSignal.timeout(this.settings.pullTimeoutSeconds * 1000),
      });
    } catch (error) {
      throw this.networkError(url, error);
    }
    const text = await this.text(url, response);
    if (!response.ok) throw new PullError(`the token endpoint ${safeUrl(url)} refused to issue an access token (${response.status}): ${excerpt(text)}`);
    let body: { access_token?: unknown; refresh_token?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PullError(`the token endpoint ${safeUrl(url)} answered something that is not JSON`);
    }
    if (typeof body.access_token !== 'string' || !body.access_token) throw new PullError(`the token endpoint ${safeUrl(url)} answered without an access_token`);
    if (pullAuth === 'oauth-refresh-token' && typeof body.refresh_token === 'string' && body.refresh_token) {
      await setFeedSecret(this.ctx, this.feed.slug, 'pullRefreshToken', body.refresh_token);
    }
    await setFeedSecret(this.ctx, this.feed.slug, 'oauthAccessToken', body.access_token);
    return body.access_token;
  }
}

/**
 * The fetched payload as the bytes of one data file: a JSON array of every page's records, or
 * the CSV of every page under the first page's header. Pages are fetched as the archive reads,
 * so memory holds one page at a time.
 */
export async function* pullPayload(ctx: Context, feed: Feed, stats: PullStats): AsyncGenerator<Buffer> {
  const s = feed.settings;
  const session = new ApiSession(ctx, feed);
  let url: URL | null = new URL(s.pullUrl ?? '');
  let header: string | null = null;
  let page = s.pullPagination === 'page' ? 1 : 0;
  if (page) url.searchParams.set(s.pullPageParam, String(page));
  if (s.pullFormat === 'json') yield Buffer.from('[');
  while (url) {
    if (stats.pages >= s.pullMaxPages) throw new PullError(`the API has more than ${s.pullMaxPages} pages; raise pullMaxPages if that is expected`);
    const response = await session.request(url);
    const text = await session.text(url, response);
    stats.pages++;
    let count: number;
    let next: string | null = nextFromLinkHeader(response.headers.get('link'));
    if (s.pullFormat === 'json') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new PullError(`page ${stats.pages} (${safeUrl(url)}) is not valid JSON: ${(error as Error).message}`);
      }
      const records = recordsAt(body, s.pullRecordsPath);
      if (typeof records === 'string') throw new PullError(`page ${stats.pages} (${safeUrl(url)}): ${records}`);
      count = records.length;
      if (count) yield Buffer.from(`${stats.records ? ',' : ''}\n${records.map((r) => JSON.stringify(r)).join(',\n')}`);
      if (s.pullPagination === 'next-link') {
        const field = valueAt(body, s.pullNextField);
        if (typeof field === 'string' && field) next = field;
      }
      if (s.pullPagination === 'cursor') {
        const cursor = valueAt(body, s.pullCursorField);
        next = cursor === null || cursor === undefined || cursor === '' || count === 0 ? null : withParam(url, s.pullCursorParam, String(cursor));
      }
    } else {
      const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
      const first = lines.shift() ?? '';
      const rows = lines.filter((line) => line !== '');
      if (header === null) {
        header = first;
        yield Buffer.from(`${first}\n`);
      } else if (first !== header && first !== '') {
        throw new PullError(`page ${stats.pages} (${safeUrl(url)}) has a different CSV header from page 1`);
      }
      count = rows.length;
      if (count) yield Buffer.from(`${rows.join('\n')}\n`);
    }
    stats.records += count;
    if (s.pullPagination === 'page') next = count === 0 ? null : withParam(url, s.pullPageParam, String(++page));
    if (s.pullPagination === 'none') next = null;
    url = next ? session.checkOrigin(new URL(next, url), `page ${stats.pages}'s link to the next page`) : null;
  }
  if (s.pullFormat === 'json') yield Buffer.from('\n]\n');
}

const withParam = (url: URL, name: string, value: string) => {
  const next = new URL(url);
  next.searchParams.set(name, value);
  return next.toString();
};

/**
 * One user's record from `url` (pullUserUrl filled in), with the pull's authentication, as the
 * bytes of a one-record data file: a JSON array, or CSV with its header. Credentials go to that
 * URL's origin only, redirects elsewhere are refused, errors are redacted — as for a pull.
 */
export async function pullOneRecord(ctx: Context, feed: Feed, url: URL): Promise<{ payload: Buffer; records: number; status: number; first?: unknown }> {
  const session = new ApiSession(ctx, feed, url.toString());
  const response = await session.request(url).catch((error: unknown) => {
    if (error instanceof PullError && / answered 404 /.test(error.message)) return null;
    throw error;
  });
  if (!response) return { payload: Buffer.alloc(0), records: 0, status: 404 };
  const text = await session.text(url, response);
  if (feed.settings.pullFormat === 'csv') {
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((line) => line !== '');
    return { payload: Buffer.from(`${lines.join('\n')}\n`), records: Math.max(0, lines.length - 1), status: response.status };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new PullError(`${safeUrl(url)} did not answer valid JSON: ${(error as Error).message}`);
  }
  // A single-user endpoint commonly answers the record itself rather than an array of one.
  const found = valueAt(body, feed.settings.pullRecordsPath);
  const records = Array.isArray(found) ? found : found && typeof found === 'object' ? [found] : null;
  if (!records) throw new PullError(`${safeUrl(url)} answered no record${feed.settings.pullRecordsPath ? ` at "${feed.settings.pullRecordsPath}"` : ''}`);
  return { payload: Buffer.from(`${JSON.stringify(records)}\n`), records: records.length, status: response.status, first: records[0] };
}

/**
 * Requests with the feed's pull authentication against another base URL (an export's target):
 * the same rules as a pull — credentials to that URL's origin only, redirects elsewhere refused,
 * one token refresh on 401, errors redacted.
 */
export function apiSessionFor(ctx: Context, feed: Feed, base: string): { request: (url: URL, body?: RequestBody) => Promise<Response>; text: (url: URL, response: Response) => Promise<string> } {
  const session = new ApiSession(ctx, feed, base, 'exportTo');
  return { request: (url, body) => session.request(session.checkOrigin(url, safeUrl(url)), body), text: (url, response) => session.text(url, response) };
}
