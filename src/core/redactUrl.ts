/**
 * How a URL is shown anywhere — run errors, events, logs, pages, mails: scheme, host, port and
 * path. User-info and query strings carry credentials often enough (`https://user:pass@…`,
 * `?token=…`, `?api_key=…`) that they are never shown; the fragment goes with them.
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin === 'null' ? `${u.protocol}//${u.host}` : u.origin}${u.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
const TRAILING = /[).,;:!?\]}]+$/;

/**
 * Every URL inside a text (an error message, an excerpt of an answer) shown as `redactUrl` shows
 * it: messages from the network stack and from the source's API may quote the URL they refused.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => {
    const tail = TRAILING.exec(match)?.[0] ?? '';
    const url = tail ? match.slice(0, -tail.length) : match;
    const shown = redactUrl(url);
    // An origin quoted alone stays alone (no path '/' added).
    return `${/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*$/i.test(url) ? shown.replace(/\/$/, '') : shown}${tail}`;
  });
}
