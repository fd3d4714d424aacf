import { resolve } from 'node:path';
import { recordAudit } from '../../audit/audit.service.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { runFromFolder } from '../../pipeline/intake.js';
import { processQueue } from '../../pipeline/queue.js';
import { getRun } from '../../runs/runs.service.js';
import { usageError } from '../../errors.js';
import { exitCodeForRun, printJson, printRun } from '../output.js';
import { withProgressLine } from '../progressLine.js';
import { cliActor, folderArgument, present, withContext, type Command } from './shared.js';

export const importCommand: Command = {
  summary: 'import <folder> --feed F [--keep]: claim the folder\'s files, validate, diff, hold or apply (for cron)',
  options: { feed: { type: 'string' }, keep: { type: 'boolean' } },
  async run(input) {
    const folder = folderArgument(input, 0);
    if (!input.options.feed) throw usageError('--feed is required');
    return withContext(input, async (ctx) => {
      const feed = await getFeed(ctx.database.knex, input.options.feed as string);
      const actor = cliActor();
      const run = await runFromFolder(ctx, feed, folder, { keepSource: Boolean(input.options.keep), actor });
      await recordAudit(ctx.database.knex, { actor, action: 'feed.import', target: `feed ${feed.slug}`, details: { run: run.id, folder: resolve(folder) } });
      await withProgressLine(ctx, () => run.id, processQueue(ctx, { feedId: feed.id }));
      const presented = await present(ctx, await getRun(ctx.database.knex, run.id));
      if (input.json) printJson(presented);
      else printRun(presented);
      return exitCodeForRun(presented);
    });
  },
};
