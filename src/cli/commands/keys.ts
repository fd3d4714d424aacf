import { usageError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../keys/keys.service.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

export const keyCommand: Command = {
  summary: 'key create <feed> [--label L] | revoke <id or prefix> | list [<feed>]: API keys for the upload API',
  options: { label: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'create|revoke|list');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      if (sub === 'create') {
        const { key, apiKey } = await createApiKey(db, positional(input, 1, 'feed'), input.options.label as string | undefined, cliActor());
        if (input.json) printJson({ ...apiKey, key });
        else process.stdout.write(`${key}\n\nThis is the only time the key is shown; it is stored hashed. Revoke it with: npx sluice key revoke ${apiKey.prefix}\n`);
        return EXIT.done;
      }
      if (sub === 'revoke') {
        const apiKey = await revokeApiKey(db, positional(input, 1, 'id or prefix'), cliActor());
        if (input.json) printJson(apiKey);
        else process.stdout.write(`revoked ${apiKey.prefix}\n`);
        return EXIT.done;
      }
      if (sub === 'list') {
        const feed = input.args[1] ? await getFeed(db, input.args[1]) : undefined;
        const keys = await listApiKeys(db, feed?.id);
        if (input.json) printJson(keys);
        else for (const k of keys) process.stdout.write(`${k.id}  ${k.prefix}  ${k.label ?? ''}  created ${k.createdAt}  last used ${k.lastUsedAt ?? 'never'}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}\n`);
        return EXIT.done;
      }
      throw usageError(`unknown key command "${sub}"; use create, revoke or list`);
    });
  },
};
