import { createAppToken, listAppTokens, revokeAppToken } from '../../apps/appTokens.service.js';
import { usageError } from '../../errors.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

export const appTokenCommand: Command = {
  summary: 'app-token create <name> --feeds a,b --scope read|write | revoke <id or prefix> | list: tokens for applications reading the directory',
  options: { feeds: { type: 'string' }, scope: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'create|revoke|list');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      if (sub === 'create') {
        const feeds = String(input.options.feeds ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        const { token, appToken } = await createAppToken(db, { name: positional(input, 1, 'name'), feeds, scope: String(input.options.scope ?? 'read') }, cliActor());
        if (input.json) printJson({ ...appToken, token });
        else process.stdout.write(`${token}\n\nThis is the only time the token is shown; it is stored hashed. Revoke it with: npx sluice app-token revoke ${appToken.prefix}\n`);
        return EXIT.done;
      }
      if (sub === 'revoke') {
        const appToken = await revokeAppToken(db, positional(input, 1, 'id or prefix'), cliActor());
        if (input.json) printJson(appToken);
        else process.stdout.write(`revoked ${appToken.prefix}\n`);
        return EXIT.done;
      }
      if (sub === 'list') {
        const tokens = await listAppTokens(db);
        if (input.json) printJson(tokens);
        else
          for (const t of tokens) {
            process.stdout.write(`${t.id}  ${t.prefix}  ${t.name}  ${t.scope}  feeds ${t.feeds.join(',')}  last used ${t.lastUsedAt ?? 'never'}${t.revokedAt ? `  REVOKED ${t.revokedAt}` : ''}\n`);
          }
        return EXIT.done;
      }
      throw usageError(`unknown app-token command "${sub}"; use create, revoke or list`);
    });
  },
};
