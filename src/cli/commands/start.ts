import { join } from 'node:path';
import { addFeed, findFeed } from '../../feeds/feeds.service.js';
import { runFromFolder } from '../../pipeline/intake.js';
import { processQueue } from '../../pipeline/queue.js';
import { getRun } from '../../runs/runs.service.js';
import { sampleDataDir } from '../../paths.js';
import { redact } from '../../config.js';
import { EXIT, printJson, printRun } from '../output.js';
import { present, withContext, type Command } from './shared.js';

/**
 * `npm start` on a fresh checkout: the embedded database, a `demo` feed, and the `basic` sample
 * imported into it, so there is something to look at straight away.
 */
export const startCommand: Command = {
  summary: 'start: set up the embedded default (database, demo feed) and import the basic sample',
  async run(input) {
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      process.stdout.write(`database: ${redact(ctx.config.databaseUrl)}\ndata folder: ${ctx.config.dataDir}\n`);
      let demo = await findFeed(db, 'demo');
      if (!demo) {
        demo = await addFeed(db, 'demo', { name: 'Demo feed' });
        process.stdout.write('created feed "demo"\n');
      }
      const already = await db('runs').where({ feed_id: demo.id }).first('id');
      if (already) {
        process.stdout.write('the demo feed already has runs; see them with: npx sluice runs --feed demo\n');
        return EXIT.done;
      }
      const run = await runFromFolder(ctx, demo, join(sampleDataDir, 'basic'), { keepSource: true });
      await processQueue(ctx, { feedId: demo.id });
      const presented = await present(ctx, await getRun(db, run.id));
      if (input.json) printJson(presented);
      else {
        printRun(presented);
        if (presented.state === 'held') process.stdout.write(`\nThe first run of a feed is held for review. Apply it with: npx sluice run apply ${run.id}\n`);
      }
      return EXIT.done;
    });
  },
};
