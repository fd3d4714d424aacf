import { exportAppChanges } from '../../exports/exports.service.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, present, withContext, type Command } from './shared.js';

export const exportCommand: Command = {
  summary: "export <feed>: send the applications' changes since the last export to the feed's exportTo",
  async run(input) {
    return withContext(input, async (ctx) => {
      const feed = await getFeed(ctx.database.knex, positional(input, 0, 'feed'));
      const result = await exportAppChanges(ctx, feed, cliActor());
      if (input.json) printJson(result ? { run: await present(ctx, result.run), target: result.target, users: result.users } : null);
      else process.stdout.write(result ? `run ${result.run.id}: exported ${result.users} users to ${result.target}\n` : 'nothing to export\n');
      return EXIT.done;
    });
  },
};
