/** Reading an API's JSON responses: the records, the next link, the next cursor. Pure. */

/** The value at a dotted path (`data.users`, `meta.next`); the whole body for an empty path. */
export function valueAt(body: unknown, path: string): unknown {
  if (!path) return body;
  let value: unknown = body;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function recordsAt(body: unknown, path: string): unknown[] | string {
  const value = valueAt(body, path);
  if (Array.isArray(value)) return value;
  return path ? `the response has no array of records at "${path}"` : 'the response is not an array of records; set pullRecordsPath to where the array is';
}

/** The `rel="next"` target of an HTTP Link header, if any. */
export function nextFromLinkHeader(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;(?:[^,]*?)rel="?([^";]+)"?/.exec(part.trim());
    if (match && match[2]!.split(/\s+/).includes('next')) return match[1]!;
  }
  return null;
}

/** Where to point in messages: scheme, host and path — never credentials or query parameters. */
export { redactUrl as safeUrl } from './redactUrl.js';
