import { text } from 'node:stream/consumers';
import { addAdmin, listAdmins, parseRole, removeAdmin, resetAdminPassword, setAdminRole } from '../../admins/admins.service.js';
import { usageError } from '../../errors.js';
import { createPersonalToken, listPersonalTokens, revokePersonalToken } from '../../admins/personalTokens.service.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

const passwordFromStdin = async (input: { options: Record<string, unknown> }) =>
  input.options['password-stdin'] ? (await text(process.stdin)).replace(/\r?\n$/, '') : undefined;

export const adminCommand: Command = {
  summary: 'admin add <email> --role viewer|operator|admin [--password-stdin] | list | role <email> <role> | reset-password <email> | remove <email> | token create <email> [--label L] | token list [<email>] | token revoke <prefix>: admin page accounts and their personal API tokens',
  options: { role: { type: 'string' }, 'password-stdin': { type: 'boolean' }, label: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'add|list|role|reset-password|remove|token');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const shownOnce = (email: string, password: string, generated: boolean) =>
        process.stdout.write(
          generated
            ? `${email}\npassword: ${password}\n\nThis is the only time the password is shown; it is stored as a scrypt hash.\n`
            : `${email}: password set\n`,
        );
      if (sub === 'add') {
        const role = parseRole(String(input.options.role ?? 'viewer'));
        const given = await passwordFromStdin(input);
        const { admin, password } = await addAdmin(db, { email: positional(input, 1, 'email'), role, password: given, actor: cliActor() });
        if (input.json) printJson({ ...admin, ...(given === undefined && { password }) });
        else shownOnce(`${admin.email} (${admin.role})`, password, given === undefined);
        return EXIT.done;
      }
      if (sub === 'list') {
        const admins = await listAdmins(db);
        if (input.json) printJson(admins);
        else for (const a of admins) process.stdout.write(`${a.email}  ${a.role}  last sign-in ${a.lastSignInAt ?? 'never'}\n`);
        return EXIT.done;
      }
      if (sub === 'role') {
        const admin = await setAdminRole(db, positional(input, 1, 'email'), parseRole(positional(input, 2, 'role')), cliActor());
        if (input.json) printJson(admin);
        else process.stdout.write(`${admin.email} is now ${admin.role}\n`);
        return EXIT.done;
      }
      if (sub === 'reset-password') {
        const given = await passwordFromStdin(input);
        const { admin, password } = await resetAdminPassword(db, positional(input, 1, 'email'), cliActor(), given);
        if (input.json) printJson({ ...admin, ...(given === undefined && { password }) });
        else shownOnce(admin.email, password, given === undefined);
        return EXIT.done;
      }
      if (sub === 'remove') {
        const admin = await removeAdmin(db, positional(input, 1, 'email'), cliActor());
        if (input.json) printJson(admin);
        else process.stdout.write(`removed ${admin.email}\n`);
        return EXIT.done;
      }
      if (sub === 'token') {
        const verb = positional(input, 1, 'create|list|revoke');
        if (verb === 'create') {
          const label = input.options.label === undefined ? undefined : String(input.options.label);
          const { token, personalToken } = await createPersonalToken(db, positional(input, 2, 'email'), { label, actor: cliActor() });
          if (input.json) printJson({ ...personalToken, token });
          else process.stdout.write(`${personalToken.email} (${personalToken.label})\ntoken: ${token}\n\nThis is the only time the token is shown; it is stored as a SHA-256 hash. Revoke it with: sluice admin token revoke ${personalToken.prefix}\n`);
          return EXIT.done;
        }
        if (verb === 'list') {
          const tokens = await listPersonalTokens(db, input.args[2]);
          if (input.json) printJson(tokens);
          else for (const t of tokens) process.stdout.write(`${t.prefix}  ${t.email}  ${t.label}  created ${t.createdAt}  last used ${t.lastUsedAt ?? 'never'}${t.revokedAt ? `  revoked ${t.revokedAt}` : ''}\n`);
          return EXIT.done;
        }
        if (verb === 'revoke') {
          const revoked = await revokePersonalToken(db, positional(input, 2, 'prefix'), { actor: cliActor() });
          if (input.json) printJson(revoked);
          else process.stdout.write(`revoked ${revoked.prefix} of ${revoked.email}\n`);
          return EXIT.done;
        }
        throw usageError(`unknown admin token command "${verb}"; use create, list or revoke`);
      }
      throw usageError(`unknown admin command "${sub}"; use add, list, role, reset-password remove or token`);
    });
  },
};
