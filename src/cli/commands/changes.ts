import { MAX_CHANGES_PER_PAGE, readChanges } from '../../directory/changeLog.js';
import { usageError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { fieldChangesBetween } from '../../core/fieldChanges.js';
import { EXIT, fieldsText, printJson } from '../output.js';
import { withContext, type Command } from './shared.js';

function count(text: unknown, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(String(text))) throw usageError(`--${name} must be a whole number (got "${String(text)}")`);
  return Number(text);
}

export const changesCommand: Command = {
  summary: 'changes [--after N] [--feed F] [--limit N]: the change log after commit number N, in commit order',
  options: { after: { type: 'string' }, feed: { type: 'string' }, limit: { type: 'string' } },
  async run(input) {
    const after = count(input.options.after, 'after', 0);
    const limit = count(input.options.limit, 'limit', 1000);
    // A page the reader would silently cut would look like the end of the log to a script.
    if (limit < 1 || limit > MAX_CHANGES_PER_PAGE) throw usageError(`--limit must be from 1 to ${MAX_CHANGES_PER_PAGE} (got ${limit}); page on with --after`);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const feed = input.options.feed ? await getFeed(db, input.options.feed as string) : undefined;
      const page = await readChanges(db, { after, limit, feedId: feed?.id });
      if (input.json) printJson(page);
      else {
        for (const c of page.changes) {
          const key = c.groupCode ? `${c.entityKey} ${c.groupCode}` : c.entityKey;
          // What an update changed; a create or a delete is the whole record (--json has it).
          const fields = c.before && c.after ? fieldsText(fieldChangesBetween(c.before, c.after)) : '';
          process.stdout.write(`${c.commitSeq}  run ${c.runId}  ${c.entity} ${c.operation}  ${key}${fields ? `  (${fields})` : ''}\n`);
        }
        process.stdout.write(`last ${page.last}\n`);
      }
      return EXIT.done;
    });
  },
};
