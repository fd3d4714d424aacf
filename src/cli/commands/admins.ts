import { text } from 'node:stream/consumers';
import { addAdmin, listAdmins, parseRole, removeAdmin, resetAdminPassword, setAdminRole } from '../../admins/admins.service.js';
import { usageError } from '../../errors.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

const passwordFromStdin = async (input: { options: Record<string, unknown> }) =>
  input.options['password-stdin'] ? (await text(process.stdin)).replace(/\r?\n$/, '') : undefined;

export const adminCommand: Command = {
  summary: 'admin add <email> --role viewer|operator|admin [--password-stdin] | list | role <email> <role> | reset-password <email> | remove <email>: admin page accounts',
  options: { role: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  async run(input) {
    const sub = positional(input, 0, 'add|list|role|reset-password|remove');
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
      throw usageError(`unknown admin command "${sub}"; use add, list, role, reset-password or remove`);
    });
  },
};
