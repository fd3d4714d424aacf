import { readFile } from 'node:fs/promises';
import { parseControlFile } from '../../core/control/controlFile.js';
import { formatProblem } from '../../core/problems.js';
import { usageError } from '../../errors.js';
import { addFeed, getFeed, listFeeds, setFeedControlFile, setFeedSetting, type Feed } from '../../feeds/feeds.service.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

const presentFeed = (feed: Feed) => ({ id: feed.id, slug: feed.slug, name: feed.name, settings: feed.settings, hasControlFile: feed.controlFile !== null });

function print(feed: Feed, json: boolean) {
  if (json) return printJson(presentFeed(feed));
  const lines = [`feed ${feed.slug} (${feed.name})`, ...Object.entries(feed.settings).map(([k, v]) => `  ${k} = ${Array.isArray(v) ? v.join(',') : String(v)}`)];
  process.stdout.write(lines.join('\n') + '\n');
}

export const feedCommand: Command = {
  summary: 'feed add <slug> [--name N] | set <slug> <key> <value> | show [<slug>] | control <slug> <control.json>',
  options: { name: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'add|set|show|control');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      switch (sub) {
        case 'add':
          print(await addFeed(db, positional(input, 1, 'slug'), { name: input.options.name as string | undefined }), input.json);
          return EXIT.done;
        case 'set':
          print(await setFeedSetting(db, positional(input, 1, 'slug'), positional(input, 2, 'key'), positional(input, 3, 'value'), cliActor()), input.json);
          return EXIT.done;
        case 'show':
          if (input.args[1]) print(await getFeed(db, input.args[1]), input.json);
          else if (input.json) printJson((await listFeeds(db)).map(presentFeed));
          else for (const feed of await listFeeds(db)) print(feed, false);
          return EXIT.done;
        case 'control': {
          const slug = positional(input, 1, 'slug');
          const text = await readFile(positional(input, 2, 'control.json'), 'utf8');
          const { problems } = parseControlFile(text, { fileName: input.args[2], feed: slug });
          if (problems.length) {
            process.stderr.write(problems.map(formatProblem).join('\n') + '\n');
            return EXIT.failed;
          }
          await setFeedControlFile(db, slug, text);
          print(await getFeed(db, slug), input.json);
          return EXIT.done;
        }
        default:
          throw usageError(`unknown feed command "${sub}"; use add, set, show or control`);
      }
    });
  },
};
