import { readFile } from 'node:fs/promises';
import { parseControlFile } from '../../core/control/controlFile.js';
import { formatProblem } from '../../core/problems.js';
import { usageError } from '../../errors.js';
import { addFeed, getFeed, listFeeds, setFeedControlFile, setFeedSetting, type Feed } from '../../feeds/feeds.service.js';
import { text } from 'node:stream/consumers';
import type { Context } from '../../context.js';
import { isPullSecret, pullSecretNames } from '../../core/feedSettings.js';
import { feedSecretNames, setFeedSecret } from '../../feeds/feedSecrets.js';
import { startSyncNow, syncNow } from '../../pull/pullFeed.js';
import { EXIT, exitCodeForRun, printJson, printRun } from '../output.js';
import { cliActor, positional, present, withContext, type Command, type CommandInput } from './shared.js';

/** Settings with their values; secrets only as whether they are set. */
async function presentFeed(ctx: Context, feed: Feed) {
  const secrets = await feedSecretNames(ctx, feed.id);
  return {
    id: feed.id,
    slug: feed.slug,
    name: feed.name,
    settings: feed.settings,
    secrets: Object.fromEntries(pullSecretNames.map((name) => [name, secrets.includes(name) ? 'set' : 'not set'])),
    hasControlFile: feed.controlFile !== null,
  };
}

const settingText = (v: unknown) => (Array.isArray(v) ? v.join(',') : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));

async function print(ctx: Context, feed: Feed, json: boolean) {
  const presented = await presentFeed(ctx, feed);
  if (json) return printJson(presented);
  const text = (v: unknown) => (Array.isArray(v) ? v.join(',') : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
  const lines = [`feed ${feed.slug} (${feed.name})`, ...Object.entries({ ...feed.settings, ...presented.secrets }).map(([k, v]) => `  ${k} = ${text(v)}`)];
  process.stdout.write(lines.join('\n') + '\n');
}

/** `-` reads the value from stdin, so secrets stay out of shell history and process lists. */
const valueOf = async (input: CommandInput) => {
  const value = positional(input, 3, 'value');
  return value === '-' ? (await text(process.stdin)).replace(/\r?\n$/, '') : value;
};

export const feedCommand: Command = {
  summary: 'feed add <slug> [--name N] | set <slug> <key> <value or - for stdin> | show [<slug>] | control <slug> <control.json> | sync <slug>',
  options: { name: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'add|set|show|control|sync');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      switch (sub) {
        case 'add':
          await print(ctx, await addFeed(db, positional(input, 1, 'slug'), { name: input.options.name as string | undefined, actor: cliActor() }), input.json);
          return EXIT.done;
        case 'set': {
          const [slug, key] = [positional(input, 1, 'slug'), positional(input, 2, 'key')];
          if (isPullSecret(key)) await setFeedSecret(ctx, slug, key, await valueOf(input), cliActor());
          else await setFeedSetting(db, slug, key, await valueOf(input), cliActor());
          const feed = await getFeed(db, slug);
          // The one setting changed, not all of them: the rest is `feed show`.
          if (input.json) await print(ctx, feed, true);
          else process.stdout.write(`${feed.slug}: ${key} = ${isPullSecret(key) ? 'set' : settingText((feed.settings as unknown as Record<string, unknown>)[key])}\n`);
          return EXIT.done;
        }
        case 'show':
          if (input.args[1]) await print(ctx, await getFeed(db, input.args[1]), input.json);
          else if (input.json) printJson(await Promise.all((await listFeeds(db)).map((f) => presentFeed(ctx, f))));
          else for (const feed of await listFeeds(db)) await print(ctx, feed, false);
          return EXIT.done;
        case 'sync': {
          // "Sync now": pull from the feed's API and process the run like an import.
          const feed = await getFeed(db, positional(input, 1, 'slug'));
          const presented = await present(ctx, await syncNow(ctx, feed.id, await startSyncNow(ctx, feed, cliActor())));
          if (input.json) printJson(presented);
          else printRun(presented);
          return exitCodeForRun(presented);
        }
        case 'control': {
          const slug = positional(input, 1, 'slug');
          const control = await readFile(positional(input, 2, 'control.json'), 'utf8');
          const { problems } = parseControlFile(control, { fileName: input.args[2], feed: slug });
          if (problems.length) {
            process.stderr.write(problems.map(formatProblem).join('\n') + '\n');
            return EXIT.failed;
          }
          await setFeedControlFile(db, slug, control, cliActor());
          await print(ctx, await getFeed(db, slug), input.json);
          return EXIT.done;
        }
        default:
          throw usageError(`unknown feed command "${sub}"; use add, set, show, control or sync`);
      }
    });
  },
};
