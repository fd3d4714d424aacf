import { archiveKey } from '../archive/archive.js';
import type { Context } from '../context.js';
import { redactUrl } from '../core/redactUrl.js';
import type { Feed } from '../feeds/feeds.service.js';
import { apiSessionFor } from '../pull/pullClient.js';

const contentType = (name: string) => (name.endsWith('.json') ? 'application/json' : name.endsWith('.csv') ? 'text/csv' : 'application/octet-stream');

/**
 * `PUT <exportTo>/<name>` for each file, in the order given (data first, the control file last,
 * so a receiving Sluice starts on a whole set), each streamed from the run's archive with the
 * feed's pull authentication. Any refusal throws: the caller marks nothing as exported.
 */
export async function putExportFiles(ctx: Context, feed: Feed, runId: number, names: string[]): Promise<string> {
  const base = feed.settings.exportTo!;
  const session = apiSessionFor(ctx, feed, base);
  for (const name of names) {
    const url = new URL(`${base.replace(/\/+$/, '')}/${encodeURIComponent(name)}`);
    const response = await session.request(url, { method: 'PUT', contentType: contentType(name), open: () => ctx.archive.read(archiveKey(feed.slug, runId, name)) });
    await session.text(url, response);
  }
  return redactUrl(base);
}
