import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { usageError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { addSftpAccount, listSftpAccounts, removeSftpAccount } from '../../sftp/accounts.service.js';
import { sftpFingerprint } from '../../sftp/startSftp.js';
import { EXIT, printJson } from '../output.js';
import { cliActor, positional, withContext, type Command } from './shared.js';

export const sftpCommand: Command = {
  summary: 'sftp add <feed> [--password-stdin | --public-key FILE] [--name N] | list [<feed>] | remove <id or name> | info: logins of the built-in SFTP endpoint',
  options: { 'password-stdin': { type: 'boolean' }, 'public-key': { type: 'string' }, name: { type: 'string' } },
  async run(input) {
    const sub = positional(input, 0, 'add|list|remove|info');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      if (sub === 'add') {
        const keyFile = input.options['public-key'] as string | undefined;
        if (keyFile && input.options['password-stdin']) throw usageError('give --password-stdin or --public-key, not both');
        const publicKey = keyFile ? await readFile(keyFile, 'utf8') : undefined;
        const password = input.options['password-stdin'] ? (await text(process.stdin)).replace(/\r?\n$/, '') : undefined;
        const { account, password: generated } = await addSftpAccount(db, positional(input, 1, 'feed'), { username: input.options.name as string | undefined, password, publicKey, actor: cliActor() });
        if (input.json) printJson({ ...account, ...(generated ? { password: generated } : {}) });
        else {
          process.stdout.write(`added SFTP account ${account.username} (${account.method}${account.keyFingerprint ? ` ${account.keyFingerprint}` : ''})\n`);
          if (generated) process.stdout.write(`password: ${generated}\n\nThis is the only time the password is shown; it is stored hashed. Remove the account with: npx sluice sftp remove ${account.username}\n`);
        }
        return EXIT.done;
      }
      if (sub === 'list') {
        const feed = input.args[1] ? await getFeed(db, input.args[1]) : undefined;
        const accounts = await listSftpAccounts(db, feed?.id);
        if (input.json) printJson(accounts);
        else for (const a of accounts) process.stdout.write(`${a.id}  ${a.username}  ${a.method}${a.keyFingerprint ? ` ${a.keyFingerprint}` : ''}  created ${a.createdAt}  last login ${a.lastLoginAt ? `${a.lastLoginAt} from ${a.lastLoginAddress}` : 'never'}\n`);
        return EXIT.done;
      }
      if (sub === 'remove') {
        const account = await removeSftpAccount(db, positional(input, 1, 'id or name'), cliActor());
        if (input.json) printJson(account);
        else process.stdout.write(`removed SFTP account ${account.username}\n`);
        return EXIT.done;
      }
      if (sub === 'info') {
        const info = { port: ctx.config.sftp.port, hostKeyFingerprint: await sftpFingerprint(ctx) };
        if (input.json) printJson(info);
        else
          process.stdout.write(
            [
              `SFTP port: ${info.port ?? 'off (set SFTP_PORT; npm start uses 2222)'}`,
              `host key fingerprint: ${info.hostKeyFingerprint ?? 'none yet (made when sluice serve first starts with SFTP_PORT set)'}`,
              '',
            ].join('\n'),
          );
        return EXIT.done;
      }
      throw usageError(`unknown sftp command "${sub}"; use add, list, remove or info`);
    });
  },
};
